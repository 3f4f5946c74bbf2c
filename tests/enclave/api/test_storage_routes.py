"""Storage over HTTP: connect a local grant, move real bytes through signed URLs, refuse bad input with
nothing issued, roles, revocation and restore, and another tenant's grant refused and audited."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit.store.tables import audit_records
from auth.roles import Role
from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Services
from tests.conftest import make_settings
from tests.enclave.api.helpers import bearer, issue_key
from tests.support.aws import use_platform_aws_credentials

LOCAL_GRANT = {"backend": "local", "bucket": "data", "prefix": "tenants/acme", "reason": "first run"}


def _actions(runtime: Runtime, tenant: str = "acme") -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(audit_records.c.body).where(audit_records.c.tenant_id == tenant).order_by(audit_records.c.seq)
        )
        return [r.body if isinstance(r.body, dict) else json.loads(r.body) for r in rows]


def _count(runtime: Runtime, action: str, tenant: str = "acme") -> int:
    return sum(1 for r in _actions(runtime, tenant) if r["action"] == action)


def _connect(client: TestClient, runtime: Runtime, tenant: str = "acme") -> tuple[dict[str, str], dict[str, Any]]:
    admin = bearer(issue_key(runtime, tenant, Role.ADMIN))
    response = client.post("/api/v1/storage/grants", headers=admin, json={**LOCAL_GRANT, "prefix": f"tenants/{tenant}"})
    assert response.status_code == 201, response.text
    return admin, response.json()


def _send(client: TestClient, url: dict[str, Any], content: bytes | None = None, **headers: str) -> Any:
    return client.request(url["method"], url["url"], content=content, headers={**url["headers"], **headers})


def test_bytes_move_through_local_signed_urls(runtime: Runtime, dedicated: TestClient) -> None:
    _, grant = _connect(dedicated, runtime)
    assert grant["status"] == "active" and grant["prefix"] == "tenants/acme/"
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    body = b"quarterly numbers\n" * 100
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    batch = dedicated.post(
        "/api/v1/storage/urls",
        headers=member,
        json={
            "items": [
                {"operation": "put", "key": "q1/report.csv", "content_type": "text/csv", "content_md5": md5},
                {"operation": "get", "key": "q1/report.csv"},
            ],
            "ttl_seconds": 300,
        },
    )
    assert batch.status_code == 200, batch.text
    put, get = batch.json()["urls"]
    assert put["headers"] == {"content-type": "text/csv", "content-md5": md5}
    assert _send(dedicated, put, body).status_code == 201
    downloaded = _send(dedicated, get)
    assert downloaded.status_code == 200 and downloaded.content == body
    [issued] = [r for r in _actions(runtime) if r["action"] == "storage.urls.issued"]
    assert issued["id"] == batch.json()["batch_id"]
    assert issued["details"]["count"] == 2
    assert put["url"].split("signature=")[1] not in json.dumps(issued)


def test_local_urls_are_checked_like_a_store_would(runtime: Runtime, dedicated: TestClient) -> None:
    _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    md5 = base64.b64encode(hashlib.md5(b"expected").digest()).decode()
    urls = dedicated.post(
        "/api/v1/storage/urls",
        headers=member,
        json={
            "items": [
                {"operation": "put", "key": "a.txt", "content_type": "text/plain"},
                {"operation": "put", "key": "b.txt", "content_md5": md5},
                {"operation": "get", "key": "missing.txt"},
            ]
        },
    ).json()["urls"]
    put, put_md5, get_missing = urls
    assert _send(dedicated, put, b"x", **{"content-type": "text/html"}).status_code == 403
    tampered = {**put, "url": put["url"].replace("a.txt", "b.txt")}
    assert _send(dedicated, tampered, b"x").status_code == 403
    as_get = {**put, "method": "GET"}
    assert _send(dedicated, as_get).status_code == 403
    refused = _send(dedicated, put_md5, b"other bytes")  # the signed MD5 sent, other bytes
    assert refused.status_code == 400 and "Content-MD5" in refused.json()["detail"]
    unsigned = dedicated.put(put_md5["url"], content=b"expected")  # the MD5 header left out
    assert unsigned.status_code == 403 and "Content-MD5" in unsigned.json()["detail"]
    assert _send(dedicated, get_missing).status_code == 404
    big = dedicated.put(
        put["url"], content=b"x" * (runtime.settings.storage_local_max_upload_bytes + 1), headers=put["headers"]
    )
    assert big.status_code == 413
    forged = dedicated.get(f"/objects/0123456789abcdef/a.txt?expires=1&user=x&signature={'0' * 64}")
    assert forged.status_code == 403


BAD_BATCHES: list[tuple[dict[str, Any], int, str]] = [
    ({"items": [{"operation": "get", "key": "../globex/x"}]}, 403, "'..' segment"),
    ({"items": [{"operation": "get", "key": "%2e%2e/x"}]}, 403, "percent-encoded"),
    ({"items": [{"operation": "get", "key": "..;/globex/x"}]}, 403, "starting with '..'"),
    ({"items": [{"operation": "get", "key": "..globex/x"}]}, 403, "starting with '..'"),
    ({"items": [{"operation": "put", "key": "a/...."}]}, 403, "starting with '..'"),
    ({"items": [{"operation": "get", "key": "ok"}, {"operation": "get", "key": "a\u202eb"}]}, 403, "item 1"),
    ({"items": [{"operation": "multipart-part", "key": "k", "upload_id": "u"}]}, 422, ""),
    ({"items": [{"operation": "get", "key": "k"}], "grant": "nope"}, 404, "no storage grant"),
    ({"items": [{"operation": "put", "key": "k", "content_md5": "not-base64"}]}, 422, ""),
    ({"items": [{"operation": "get", "key": "k", "content_md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}]}, 422, ""),
    ({"items": []}, 422, ""),
    ({"items": [{"operation": "get", "key": "k"}] * 1001}, 422, ""),
    ({"items": [{"operation": "get", "key": "k"}], "ttl_seconds": 3601}, 422, ""),
    ({"items": [{"operation": "get", "key": "k"}], "ttl_seconds": True}, 422, "ttl_seconds"),
    ({"items": [{"operation": "get", "key": "k"}], "ttl_seconds": "900"}, 422, "ttl_seconds"),
    ({"items": [{"operation": "get", "key": "k"}], "ttl_seconds": 900.5}, 422, "ttl_seconds"),
    *(
        (
            {"items": [{"operation": "multipart-part", "key": "k", "upload_id": "u", "part_number": n}]},
            422,
            "part_number",
        )
        for n in ("3", True, 2.5)
    ),
    ({"items": [{"operation": "delete", "key": "k"}]}, 422, ""),
    ({"items": [{"operation": "get", "key": "k", "extra": 1}]}, 422, ""),
    ({"items": [{"operation": "get", "key": "k"}], "tenant": "globex"}, 422, ""),
]


def test_bad_input_gets_a_clear_4xx_and_nothing_is_issued(runtime: Runtime, dedicated: TestClient) -> None:
    _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    for payload, status, reason in BAD_BATCHES:
        response = dedicated.post("/api/v1/storage/urls", headers=member, json=payload)
        assert response.status_code == status, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert reason in response.json()["detail"]
    assert _count(runtime, "storage.urls.issued") == 0


def test_roles(runtime: Runtime, dedicated: TestClient) -> None:
    _, grant = _connect(dedicated, runtime)
    get = {"items": [{"operation": "get", "key": "k"}]}
    put = {"items": [{"operation": "put", "key": "k"}]}
    viewer = bearer(issue_key(runtime, "acme", Role.VIEWER))
    security = bearer(issue_key(runtime, "acme", Role.SECURITY_ADMIN))
    assert dedicated.post("/api/v1/storage/urls", headers=viewer, json=get).status_code == 200
    assert dedicated.post("/api/v1/storage/urls", headers=viewer, json=put).status_code == 403
    refused = dedicated.post("/api/v1/storage/urls", headers=security, json=get)
    assert refused.status_code == 403 and "lacks storage.read" in refused.json()["detail"]
    assert dedicated.get("/api/v1/storage/status", headers=security).json()["issuing"] is True
    assert dedicated.get("/api/v1/storage/status", headers=viewer).status_code == 403
    assert dedicated.post("/api/v1/storage/grants", headers=security, json=LOCAL_GRANT).status_code == 403
    assert _count(runtime, "storage.urls.denied") == 2
    assert _count(runtime, "storage.grant.denied") == 2
    assert dedicated.get("/api/v1/storage/grants", headers=security).json()[0]["id"] == grant["id"]


def test_revoke_and_restore_over_the_api(runtime: Runtime, dedicated: TestClient) -> None:
    _, grant = _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    security = bearer(issue_key(runtime, "acme", Role.SECURITY_ADMIN))
    [put] = dedicated.post(
        "/api/v1/storage/urls", headers=member, json={"items": [{"operation": "put", "key": "k"}]}
    ).json()["urls"]
    no_reason = dedicated.post(f"/api/v1/storage/grants/{grant['name']}/revoke", headers=security, json={})
    assert no_reason.status_code == 422
    revoked = dedicated.post(
        f"/api/v1/storage/grants/{grant['name']}/revoke", headers=security, json={"reason": "incident 9"}
    )
    assert revoked.status_code == 200 and revoked.json()["grants"][0]["status"] == "revoked"
    refused = dedicated.post("/api/v1/storage/urls", headers=member, json={"items": [{"operation": "get", "key": "k"}]})
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]
    assert _send(dedicated, put, b"late").status_code == 403  # outstanding local URLs stop too
    status = dedicated.get("/api/v1/storage/status", headers=security).json()
    assert status["issuing"] is False and status["grants"][0]["status_reason"] == "incident 9"
    restored = dedicated.post(f"/api/v1/storage/grants/{grant['id']}/restore", headers=security, json={"reason": "ok"})
    assert restored.json()["grants"][0]["status"] == "active"
    assert _send(dedicated, put, b"on time").status_code == 201


def test_another_tenants_grant_is_refused_and_audited(shared: tuple[Runtime, TestClient]) -> None:
    runtime, acme = shared
    _, grant = _connect(acme, runtime)
    globex_admin = bearer(issue_key(runtime, "globex", Role.ADMIN))
    with TestClient(acme.app, base_url="http://globex.enclave.test") as globex:
        urls = globex.post(
            "/api/v1/storage/urls",
            headers=globex_admin,
            json={"grant": grant["id"], "items": [{"operation": "get", "key": "k"}]},
        )
        assert urls.status_code == 404
        revoke = globex.post(f"/api/v1/storage/grants/{grant['id']}/revoke", headers=globex_admin, json={"reason": "x"})
        assert revoke.status_code == 404
        assert globex.get("/api/v1/storage/grants", headers=globex_admin).json() == []
        on_acme_host = acme.post(
            "/api/v1/storage/urls",
            headers=globex_admin,
            json={"grant": grant["id"], "items": [{"operation": "get", "key": "k"}]},
        )
        assert on_acme_host.status_code == 403  # credentials of another tenant than the host
    assert _count(runtime, "storage.urls.denied", "globex") == 1
    assert _count(runtime, "storage.grant.denied", "globex") == 1
    assert _count(runtime, "storage.urls.denied", "acme") == 0
    assert acme.get("/api/v1/storage/status", headers=bearer(issue_key(runtime, "acme", Role.ADMIN))).json()["issuing"]


def test_the_gateway_runs_the_access_probe(sqlite_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "data", storage_probe_seconds=1))
    try:
        with TestClient(create_app(Services.build(runtime))) as client:
            admin, grant = _connect(client, runtime)
            deadline = time.monotonic() + 20
            probed: dict[str, Any] = {}
            while time.monotonic() < deadline and not probed.get("probed_at"):
                time.sleep(0.3)
                probed = client.get("/api/v1/storage/status", headers=admin).json()["grants"][0]
        assert probed["probe_status"] == "ok", probed
        assert probed["id"] == grant["id"]
    finally:
        runtime.close()


S3_GRANT = {
    "backend": "s3",
    "bucket": "acme-data",
    "prefix": "tenants/acme",
    "region": "cn-north-1",
    "role_arn": "arn:aws-cn:iam::123456789012:role/enclave-access",
}


def test_s3_grants_over_the_api_use_the_id_enclave_generated(
    runtime: Runtime, dedicated: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_platform_aws_credentials(monkeypatch, tmp_path)
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    missing = dedicated.post("/api/v1/storage/grants", headers=admin, json=S3_GRANT)
    assert missing.status_code == 409 and "enclave storage external-id" in missing.json()["detail"]
    issued = dedicated.post("/api/v1/storage/grants/default/external-id", headers=admin)
    assert issued.status_code == 200 and issued.json()["created"] is True
    generated = issued.json()["external_id"]
    again = dedicated.post("/api/v1/storage/grants/default/external-id", headers=admin).json()
    assert (again["external_id"], again["created"]) == (generated, False)  # generated once, the same ever after
    viewer = bearer(issue_key(runtime, "acme", Role.VIEWER))
    assert dedicated.post("/api/v1/storage/grants/default/external-id", headers=viewer).status_code == 403
    storage = dedicated.app.state.services.storage.service  # type: ignore[attr-defined]
    chosen = dedicated.post("/api/v1/storage/grants", headers=admin, json={**S3_GRANT, "external_id": "mine-1234"})
    assert chosen.status_code == 409 and "not the one Enclave generated" in chosen.json()["detail"]
    connected = dedicated.post("/api/v1/storage/grants", headers=admin, json={**S3_GRANT, "reason": "BYOB kit"})
    assert connected.status_code == 201, connected.text
    assert connected.json()["region"] == "cn-north-1"
    assert storage.grant_by_id(connected.json()["id"]).external_id == generated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**S3_GRANT, "role_arn": "arn:aws-cn:iam::123456789012:role/r\u00f4le"}, "role_arn"),
        ({**S3_GRANT, "role_arn": "arn:aws-cn:iam::123456789012:role/" + "r" * 512}, "role_arn"),
        ({**S3_GRANT, "region": "cn-south-9"}, "not an AWS region"),
        ({**S3_GRANT, "region": "eu-west-1"}, "partition"),
        ({**S3_GRANT, "prefix": "tenants/..;"}, "prefix"),
        ({**S3_GRANT, "ttl_max_seconds": True}, "ttl_max_seconds"),
        ({**S3_GRANT, "ttl_max_seconds": "900"}, "ttl_max_seconds"),
    ],
)
def test_grant_bodies_the_model_refuses_get_422(
    runtime: Runtime, dedicated: TestClient, body: dict[str, Any], field: str
) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    response = dedicated.post("/api/v1/storage/grants", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert field in response.text
