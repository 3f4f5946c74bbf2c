"""Tenants over HTTP: the operator token only; names and host names checked by full match."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from auth.roles import Role
from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Services
from tests.conftest import make_settings
from tests.enclave.api.helpers import OPERATOR_TOKEN, bearer, issue_key


def test_operator_adds_and_lists_tenants(shared: tuple[Runtime, TestClient]) -> None:
    _, client = shared
    operator = bearer(OPERATOR_TOKEN)
    created = client.post(
        "/api/v1/tenants", headers=operator, json={"id": "initech", "hostname": "initech.enclave.test"}
    )
    assert created.status_code == 201
    assert {t["id"] for t in client.get("/api/v1/tenants", headers=operator).json()} == {"acme", "globex", "initech"}
    duplicate = client.post("/api/v1/tenants", headers=operator, json={"id": "initech"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    taken = client.post("/api/v1/tenants", headers=operator, json={"id": "other", "hostname": "initech.enclave.test"})
    assert taken.status_code == 409
    assert client.post("/api/v1/tenants", headers=operator, json={"id": "Bad Name"}).status_code == 422


def test_trailing_newlines_do_not_slip_through(shared: tuple[Runtime, TestClient]) -> None:
    _runtime, client = shared
    operator = bearer(OPERATOR_TOKEN)
    for body in ({"id": "delta", "hostname": "acme.enclave.test\n"}, {"id": "delta\n"}):
        assert client.post("/api/v1/tenants", headers=operator, json=body).status_code == 422
    assert {t["id"] for t in client.get("/api/v1/tenants", headers=operator).json()} == {"acme", "globex"}


def test_tenant_keys_cannot_manage_tenants(shared: tuple[Runtime, TestClient]) -> None:
    runtime, client = shared
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    refused = client.get("/api/v1/tenants", headers=admin)
    assert refused.status_code == 403 and refused.json()["detail"] == "platform operator token required"


def test_dedicated_gateway_refuses_tenant_creation(sqlite_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d", operator_token=OPERATOR_TOKEN))
    try:
        with TestClient(create_app(Services.build(runtime))) as client:
            response = client.post("/api/v1/tenants", headers=bearer(OPERATOR_TOKEN), json={"id": "other"})
        assert response.status_code == 409 and "dedicated" in response.json()["detail"]
    finally:
        runtime.close()
