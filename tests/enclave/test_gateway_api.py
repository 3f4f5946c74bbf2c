"""The gateway's HTTP API against a real database (SQLite and MariaDB): health, authentication, tenant
isolation, audit query and export, API keys, and refusal when the audit log cannot be written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from audit.events import SYSTEM_ACTOR
from audit.signing import load_public_key
from audit.verify import verify_export
from auth.apikeys import create_api_key
from auth.roles import Role
from auth.tenants import create_tenant
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Mode
from tests.conftest import make_settings

OPERATOR_TOKEN = "op-" + "x" * 40


def issue_key(runtime: Runtime, tenant: str, role: Role, ttl: timedelta = timedelta(days=1)) -> str:
    with transaction(runtime.sessions) as session:
        issued = create_api_key(
            session,
            runtime.audit,
            SYSTEM_ACTOR,
            tenant_id=tenant,
            role=role,
            name="test",
            ttl=ttl,
            max_ttl=timedelta(days=365),
        )
    return issued.secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shared(database_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient]]:
    settings = make_settings(
        database_url, tmp_path / "data", mode=Mode.SHARED, tenant=None, operator_token=OPERATOR_TOKEN
    )
    runtime = Runtime.open(settings)
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "acme", hostname="acme.enclave.test")
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex", hostname="globex.enclave.test")
    with TestClient(create_app(runtime), base_url="http://acme.enclave.test") as client:
        yield runtime, client
    runtime.close()


@pytest.fixture
def dedicated(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def test_health_and_readiness(dedicated: TestClient) -> None:
    assert dedicated.get("/healthz").json() == {"status": "ok"}
    ready = dedicated.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}
    assert "x-request-id" in ready.headers


def test_readiness_fails_when_the_cache_is_unreachable(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d", cache_url="redis://127.0.0.1:1/0"))
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "ok"
        assert "unreachable" in response.json()["checks"]["cache"]
    finally:
        runtime.close()


def test_readiness_with_the_machines_redis(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d", cache_url="redis://127.0.0.1:6379/0"))
    try:
        with TestClient(create_app(runtime)) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic abc"}, "missing bearer token"),
        ({"Authorization": "Bearer nonsense"}, "unrecognised bearer token"),
        ({"Authorization": "Bearer enc_0123456789ab_" + "A" * 43}, "unknown API key"),
        ({"Authorization": "Bearer enc_short"}, "malformed API key"),
    ],
)
def test_requests_without_valid_credentials_are_refused(
    dedicated: TestClient, header: dict[str, str], message: str
) -> None:
    response = dedicated.get("/api/v1/audit/events", headers=header)
    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_secret_revoked_and_expired_keys_are_refused_and_audited(runtime: Runtime, dedicated: TestClient) -> None:
    admin = issue_key(runtime, "acme", Role.ADMIN)
    key_id = admin.split("_")[1]
    wrong = f"enc_{key_id}_" + "B" * 43
    assert dedicated.get("/api/v1/api-keys", headers=bearer(wrong)).status_code == 401
    expired = issue_key(runtime, "acme", Role.AUDITOR, ttl=timedelta(minutes=1))
    with transaction(runtime.sessions) as session:
        session.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
            {"t": datetime(2020, 1, 1), "id": expired.split("_")[1]},
        )
    response = dedicated.get("/api/v1/audit/events", headers=bearer(expired))
    assert response.status_code == 401 and response.json()["detail"] == "API key expired"
    auditor = issue_key(runtime, "acme", Role.AUDITOR)
    events = dedicated.get(
        "/api/v1/audit/events", headers=bearer(auditor), params={"action": "auth.apikey.used.denied"}
    ).json()
    reasons = [e["record"]["reason"] for e in events["events"]]
    assert reasons == ["wrong secret", "expired"]
    assert wrong not in orjson.dumps(events).decode()


def test_roles_limit_what_a_key_may_do(runtime: Runtime, dedicated: TestClient) -> None:
    viewer = issue_key(runtime, "acme", Role.VIEWER)
    response = dedicated.get("/api/v1/audit/events", headers=bearer(viewer))
    assert response.status_code == 403
    assert "lacks permission audit.read" in response.json()["detail"]
    assert (
        dedicated.post("/api/v1/api-keys", headers=bearer(viewer), json={"name": "x", "role": "admin"}).status_code
        == 403
    )


def test_api_key_lifecycle_over_the_api(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    created = dedicated.post(
        "/api/v1/api-keys", headers=admin, json={"name": "ci job", "role": "member", "ttl_days": 30}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith(f"enc_{body['id']}_")
    listed = dedicated.get("/api/v1/api-keys", headers=admin).json()
    assert {k["name"] for k in listed} == {"test", "ci job"}
    assert all("secret" not in k for k in listed)
    assert dedicated.delete(f"/api/v1/api-keys/{body['id']}", headers=admin).json()["revoked_at"] is not None
    again = dedicated.delete(f"/api/v1/api-keys/{body['id']}", headers=admin)
    assert again.status_code == 404 and "already revoked" in again.json()["detail"]
    bad = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "x", "role": "root"})
    assert bad.status_code == 422
    too_long = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "x", "role": "viewer", "ttl_days": 3000})
    assert too_long.status_code == 400 and "lifetime" in too_long.json()["detail"]


def test_query_filters_paging_and_bad_input(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    for _ in range(5):
        dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "k", "role": "viewer"})
    first = dedicated.get(
        "/api/v1/audit/events", headers=admin, params={"action": "auth.apikey.created", "limit": 4}
    ).json()
    assert len(first["events"]) == 4 and first["next_cursor"]
    second = dedicated.get(
        "/api/v1/audit/events",
        headers=admin,
        params={"action": "auth.apikey.created", "limit": 4, "cursor": first["next_cursor"]},
    ).json()
    assert len(second["events"]) == 2 and second["next_cursor"] is None
    seqs = [e["seq"] for e in first["events"] + second["events"]]
    assert seqs == sorted(seqs)
    assert dedicated.get("/api/v1/audit/events", headers=admin, params={"cursor": "garbage!"}).status_code == 400
    assert dedicated.get("/api/v1/audit/events", headers=admin, params={"action": "no.such"}).status_code == 400
    naive = dedicated.get("/api/v1/audit/events", headers=admin, params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 400 and "time zone" in naive.json()["detail"]
    assert dedicated.get("/api/v1/audit/events", headers=admin, params={"limit": 5000}).status_code == 422
    queried = dedicated.get("/api/v1/audit/events", headers=admin, params={"action": "audit.queried"}).json()
    assert len(queried["events"]) >= 3  # every query is itself on the record


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "ocsf"])
def test_export_streams_every_format_and_jsonl_verifies(runtime: Runtime, dedicated: TestClient, fmt: str) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    response = dedicated.get("/api/v1/audit/export", headers=auditor, params={"format": fmt})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    if fmt == "jsonl":
        key = load_public_key(dedicated.get("/api/v1/audit/public-key").text)
        report = verify_export(io.BytesIO(response.content), key)
        assert report.ok, report.problems
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert any(row.get("action") == "audit.exported" for row in rows)
    else:
        classes = {orjson.loads(line)["class_uid"] for line in response.content.splitlines()}
        assert classes <= {3001, 3002, 6003} and classes


def test_export_rejects_bad_ranges(runtime: Runtime, dedicated: TestClient) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    response = dedicated.get(
        "/api/v1/audit/export",
        headers=auditor,
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 400
    assert dedicated.get("/api/v1/audit/export", headers=auditor, params={"format": "xml"}).status_code == 422


def test_when_the_audit_log_cannot_be_written_the_act_is_refused(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    with transaction(runtime.sessions) as session:
        session.execute(text("DROP TABLE audit_records"))
    created = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "nope", "role": "viewer"})
    assert created.status_code == 503
    with runtime.sessions() as session:
        assert session.execute(text("SELECT COUNT(*) FROM api_keys WHERE name = 'nope'")).scalar() == 0
    assert dedicated.get("/api/v1/audit/export", headers=admin).status_code == 503
    assert dedicated.get("/api/v1/audit/events", headers=admin).status_code == 503


def test_shared_mode_isolates_tenants(shared: tuple[Runtime, TestClient]) -> None:
    runtime, client = shared
    acme = bearer(issue_key(runtime, "acme", Role.ADMIN))
    globex = bearer(issue_key(runtime, "globex", Role.ADMIN))
    acme_events = client.get("/api/v1/audit/events", headers=acme).json()["events"]
    assert acme_events and all(e["record"]["tenant"] == "acme" for e in acme_events)
    # globex's key on acme's host name is refused outright
    assert client.get("/api/v1/audit/events", headers=globex).status_code == 403
    # asking for another tenant in the query is ignored: the tenant comes from the key
    on_own_host = client.get(
        "http://globex.enclave.test/api/v1/audit/events", headers=globex, params={"tenant": "acme"}
    )
    assert {e["record"]["tenant"] for e in on_own_host.json()["events"]} == {"globex"}
    # a key id from another tenant cannot be revoked, even knowing it
    globex_key = client.get("http://globex.enclave.test/api/v1/api-keys", headers=globex).json()[0]["id"]
    assert client.delete(f"/api/v1/api-keys/{globex_key}", headers=acme).status_code == 404
    exported = client.get("/api/v1/audit/export", headers=acme)
    assert b'"tenant":"globex"' not in exported.content


def test_operator_token_is_for_platform_operations_only(shared: tuple[Runtime, TestClient]) -> None:
    _, client = shared
    operator = bearer(OPERATOR_TOKEN)
    created = client.post(
        "/api/v1/tenants", headers=operator, json={"id": "initech", "hostname": "initech.enclave.test"}
    )
    assert created.status_code == 201
    assert {t["id"] for t in client.get("/api/v1/tenants", headers=operator).json()} == {"acme", "globex", "initech"}
    duplicate = client.post("/api/v1/tenants", headers=operator, json={"id": "initech"})
    assert duplicate.status_code == 409
    assert client.post("/api/v1/tenants", headers=operator, json={"id": "Bad Name"}).status_code == 422
    refused = client.get("/api/v1/audit/events", headers=operator)
    assert refused.status_code == 403 and "platform operations only" in refused.json()["detail"]
    assert client.get("/api/v1/tenants", headers=bearer("op-" + "y" * 40)).status_code == 401


def test_dedicated_gateway_refuses_tenant_creation_and_other_tenants(runtime: Runtime, tmp_path: Path) -> None:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    other = bearer(issue_key(runtime, "globex", Role.ADMIN))
    with TestClient(create_app(runtime)) as client:
        response = client.get("/api/v1/audit/events", headers=other)
    assert response.status_code == 403 and "another tenant" in response.json()["detail"]


def test_request_ids_are_echoed_and_bad_ones_replaced(dedicated: TestClient) -> None:
    assert dedicated.get("/healthz", headers={"X-Request-ID": "abc-12345678"}).headers["x-request-id"] == "abc-12345678"
    replaced = dedicated.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert replaced != "bad id with spaces" and len(replaced) == 32


def test_published_openapi_document_is_current() -> None:
    from enclave.openapi import openapi_document

    published = orjson.loads(Path("docs/openapi.json").read_bytes())
    assert published == orjson.loads(orjson.dumps(openapi_document())), (
        "run `enclave openapi` and commit docs/openapi.json"
    )
    assert "/api/v1/audit/export" in published["paths"]
