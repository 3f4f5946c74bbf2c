"""Authentication as the gateway applies it (enclave/api/deps.py): one message for every refusal, the
precise reason in the audit log, the tenant bound to a strictly parsed host, failed attempts rate-limited
per key and per client with one summary record per window, and authentication before the body is read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from auth.roles import Role
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from tests.conftest import make_settings
from tests.enclave.api.conftest import open_shared
from tests.enclave.api.helpers import OPERATOR_TOKEN, bearer, issue_key, key_id


def _denials(runtime: Runtime, tenant: str, action: str = "auth.apikey.used.denied") -> list[str]:
    with runtime.sessions() as session:
        rows = session.execute(
            text("SELECT body FROM audit_records WHERE tenant_id = :t AND action = :a ORDER BY seq"),
            {"t": tenant, "a": action},
        ).all()
    import orjson

    return [orjson.loads(row[0]).get("reason") for row in rows]


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer enc_0123456789ab_" + "A" * 43},  # unknown key
        {"Authorization": "Bearer enc_short"},
    ],
)
def test_refusals_all_say_the_same_thing(dedicated: TestClient, header: dict[str, str]) -> None:
    response = dedicated.get("/api/v1/audit/events", headers=header)
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid credentials"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_missing_credentials_say_how_to_send_them(dedicated: TestClient) -> None:
    for header in ({}, {"Authorization": "Basic abc"}):
        response = dedicated.get("/api/v1/audit/events", headers=header)
        assert response.status_code == 401 and "Authorization: Bearer" in response.json()["detail"]


def test_unknown_key_and_wrong_secret_are_indistinguishable_but_audited_precisely(
    runtime: Runtime, dedicated: TestClient
) -> None:
    admin = issue_key(runtime, "acme", Role.ADMIN)
    wrong = dedicated.get("/api/v1/api-keys", headers=bearer(f"enc_{key_id(admin)}_" + "B" * 43))
    unknown = dedicated.get("/api/v1/api-keys", headers=bearer("enc_0123456789ab_" + "B" * 43))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    expired = issue_key(runtime, "acme", Role.AUDITOR, ttl=timedelta(minutes=1))
    with transaction(runtime.sessions) as session:
        session.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
            {"t": datetime(2020, 1, 1), "id": key_id(expired)},
        )
    assert dedicated.get("/api/v1/audit/events", headers=bearer(expired)).json()["detail"] == "invalid credentials"
    assert _denials(runtime, "acme") == ["wrong secret", "unknown API key", "expired"]


def test_shared_mode_isolates_tenants(shared: tuple[Runtime, TestClient]) -> None:
    runtime, client = shared
    acme = bearer(issue_key(runtime, "acme", Role.ADMIN))
    globex = bearer(issue_key(runtime, "globex", Role.ADMIN))
    acme_events = client.get("/api/v1/audit/events", headers=acme).json()["events"]
    assert acme_events and all(e["record"]["tenant"] == "acme" for e in acme_events)
    assert client.get("/api/v1/audit/events", headers=globex).status_code == 403
    on_own_host = client.get(
        "http://globex.enclave.test/api/v1/audit/events", headers=globex, params={"tenant": "acme"}
    )
    assert {e["record"]["tenant"] for e in on_own_host.json()["events"]} == {"globex"}
    globex_key = client.get("http://globex.enclave.test/api/v1/api-keys", headers=globex).json()[0]["id"]
    assert client.delete(f"/api/v1/api-keys/{globex_key}", headers=acme).status_code == 404
    assert b'"tenant":"globex"' not in client.get("/api/v1/audit/export", headers=acme).content


def test_dedicated_gateway_refuses_other_tenants(runtime: Runtime, dedicated: TestClient) -> None:
    from audit.events import SYSTEM_ACTOR
    from auth.tenants import create_tenant

    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    response = dedicated.get("/api/v1/audit/events", headers=bearer(issue_key(runtime, "globex", Role.ADMIN)))
    assert response.status_code == 403 and "another tenant" in response.json()["detail"]


def _asgi_get(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: Iterator[bytes] | None = None
) -> tuple[int, int]:
    """Call the app as a server would, with raw headers; (status, request body chunks the app read)."""
    chunks = list(body or [])
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if body is not None else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    return status, read


@pytest.mark.parametrize(
    "host_headers",
    [
        [b"globex.enclave.test."],  # trailing dot
        [b"GLOBEX.enclave.test"],  # case
        [b"globex.enclave.test:8443"],  # port
    ],
)
def test_host_is_normalised_before_the_tenant_binding(
    shared_sqlite: tuple[Runtime, TestClient], host_headers: list[bytes]
) -> None:
    runtime, client = shared_sqlite
    acme = issue_key(runtime, "acme", Role.ADMIN)
    headers = [(b"host", value) for value in host_headers] + [(b"authorization", f"Bearer {acme}".encode())]
    assert _asgi_get(client.app, "/api/v1/api-keys", headers)[0] == 403


@pytest.mark.parametrize(
    "host_headers",
    [
        [b"x@globex.enclave.test"],  # userinfo
        [b"acme.enclave.test", b"globex.enclave.test"],  # two Host headers, the first acme's
        [b"acme.enclave.test/evil"],
        [b""],
        [],
    ],
)
def test_ambiguous_hosts_are_refused(shared_sqlite: tuple[Runtime, TestClient], host_headers: list[bytes]) -> None:
    runtime, client = shared_sqlite
    acme = issue_key(runtime, "acme", Role.ADMIN)
    headers = [(b"host", value) for value in host_headers] + [(b"authorization", f"Bearer {acme}".encode())]
    assert _asgi_get(client.app, "/api/v1/api-keys", headers)[0] == 400


def test_authentication_comes_before_the_body_is_read(shared_sqlite: tuple[Runtime, TestClient]) -> None:
    _, client = shared_sqlite
    body = iter([b"x" * 65536] * 64)  # 4 MiB, streamed
    status, read = _asgi_get(client.app, "/api/v1/api-keys", [(b"host", b"acme.enclave.test")], body)
    assert (status, read) == (401, 0)


def test_bodies_are_capped_while_streaming(shared_sqlite: tuple[Runtime, TestClient]) -> None:
    runtime, client = shared_sqlite
    admin = issue_key(runtime, "acme", Role.ADMIN)
    headers = [(b"host", b"acme.enclave.test"), (b"authorization", f"Bearer {admin}".encode())]
    status, read = _asgi_get(client.app, "/api/v1/api-keys", headers, iter([b"x" * 65536] * 64))
    assert status == 413 and read == 17  # 1 MiB default cap: refused on the first chunk past it
    declared = client.post("/api/v1/api-keys", headers=bearer(admin), content=b"x" * (2 << 20))
    assert declared.status_code == 413 and "at most 1048576 bytes" in declared.json()["detail"]


@pytest.fixture
def limited(tmp_path: Path, sqlite_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[Runtime, TestClient]]:
    cache_url = getattr(request, "param", "memory://")
    runtime = open_shared(
        sqlite_url,
        tmp_path / "data",
        cache_url=cache_url,
        auth_failures_per_subject=3,
        auth_failures_per_client=1000,
        auth_failure_window_seconds=60,
    )
    with TestClient(create_app(Services.build(runtime)), base_url="http://acme.enclave.test") as client:
        yield runtime, client
    runtime.close()


@pytest.mark.parametrize("limited", ["memory://", "redis://127.0.0.1:6379/0"], indirect=True)
def test_failed_authentication_is_rate_limited_and_summarised(limited: tuple[Runtime, TestClient]) -> None:
    runtime, client = limited
    admin = issue_key(runtime, "acme", Role.ADMIN)
    guesses = [bearer(f"enc_{key_id(admin)}_{uuid.uuid4().hex}{'A' * 11}") for _ in range(20)]
    statuses = [client.get("/api/v1/api-keys", headers=guess).status_code for guess in guesses]
    assert statuses == [401] * 3 + [429] * 17
    limited_response = client.get("/api/v1/api-keys", headers=guesses[0])
    assert int(limited_response.headers["retry-after"]) >= 1
    assert _denials(runtime, "acme") == ["wrong secret"] * 3
    # one per key and window: 17 refusals, one record (two if the burst straddled a window boundary)
    assert 1 <= len(_denials(runtime, "acme", "auth.failures.throttled")) <= 2
    assert client.get("/api/v1/api-keys", headers=bearer(admin)).status_code == 200  # the holder still gets in


def test_failures_are_limited_per_client_address(tmp_path: Path, sqlite_url: str) -> None:
    runtime = open_shared(sqlite_url, tmp_path / "data", auth_failures_per_subject=1000, auth_failures_per_client=5)
    try:
        with TestClient(create_app(Services.build(runtime)), base_url="http://acme.enclave.test") as client:
            guesses = [bearer(f"enc_{uuid.uuid4().hex[:12]}_" + "A" * 43) for _ in range(8)]
            statuses = [client.get("/api/v1/api-keys", headers=guess).status_code for guess in guesses]
            assert statuses == [401] * 5 + [429] * 3
            # once the address is spent, it is refused before any credential is looked at
            admin = issue_key(runtime, "acme", Role.ADMIN)
            assert client.get("/api/v1/api-keys", headers=bearer(admin)).status_code == 429
    finally:
        runtime.close()


def test_operator_token_failures_are_audited_and_limited(limited: tuple[Runtime, TestClient]) -> None:
    runtime, client = limited
    statuses = [client.get("/api/v1/tenants", headers=bearer("op-wrong-" + "z" * i)).status_code for i in range(6)]
    assert statuses == [401] * 3 + [429] * 3
    assert _denials(runtime, "acme", "auth.operator.denied") == ["wrong operator token"] * 3
    assert 1 <= len(_denials(runtime, "acme", "auth.failures.throttled")) <= 2  # a window boundary may split it
    assert client.get("/api/v1/tenants", headers=bearer(OPERATOR_TOKEN)).status_code == 200


def test_the_operator_token_is_for_platform_operations_only(shared: tuple[Runtime, TestClient]) -> None:
    _, client = shared
    refused = client.get("/api/v1/audit/events", headers=bearer(OPERATOR_TOKEN))
    assert refused.status_code == 403 and "platform operations only" in refused.json()["detail"]


def test_authentication_needs_a_settings_file_free_runtime(tmp_path: Path, sqlite_url: str) -> None:
    """A dedicated gateway without an operator token refuses any non-key bearer as invalid credentials."""
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d"))
    try:
        with TestClient(create_app(Services.build(runtime))) as client:
            response = client.get("/api/v1/tenants", headers=bearer("whatever-token"))
        assert response.status_code == 401
        assert _denials(runtime, "acme", "auth.operator.denied") == ["unrecognised bearer token"]
    finally:
        runtime.close()
