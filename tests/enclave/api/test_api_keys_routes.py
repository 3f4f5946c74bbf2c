"""API keys over HTTP: lifecycle, roles, lifetimes bound by the creating key, revocation of its children,
names checked by full match, and no echo of a pasted secret."""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from auth.roles import Role
from enclave.runtime import Runtime
from tests.enclave.api.helpers import bearer, issue_key, key_id


def test_api_key_lifecycle_over_the_api(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN, ttl=timedelta(days=30)))
    created = dedicated.post(
        "/api/v1/api-keys", headers=admin, json={"name": "ci job", "role": "member", "ttl_days": 7}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith(f"enc_{body['id']}_")
    assert created.headers["cache-control"] == "no-store"  # the secret must not be cached anywhere
    listed = dedicated.get("/api/v1/api-keys", headers=admin).json()
    assert {k["name"] for k in listed} == {"test", "ci job"}
    assert all("secret" not in k for k in listed)
    assert dedicated.delete(f"/api/v1/api-keys/{body['id']}", headers=admin).json()["revoked_at"] is not None
    again = dedicated.delete(f"/api/v1/api-keys/{body['id']}", headers=admin)
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]
    assert dedicated.delete("/api/v1/api-keys/0123456789ab", headers=admin).status_code == 404
    bad = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "x", "role": "root"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_roles_limit_what_a_key_may_do(runtime: Runtime, dedicated: TestClient) -> None:
    viewer = bearer(issue_key(runtime, "acme", Role.VIEWER))
    refused = dedicated.post("/api/v1/api-keys", headers=viewer, json={"name": "x", "role": "admin"})
    assert refused.status_code == 403 and "lacks permission apikeys.admin" in refused.json()["detail"]


@pytest.mark.parametrize("name", ["trailing\n", "tab\tname", "", "x" * 101])
def test_key_names_are_matched_in_full(runtime: Runtime, dedicated: TestClient, name: str) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    response = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": name, "role": "viewer"})
    assert response.status_code == 422
    assert len(dedicated.get("/api/v1/api-keys", headers=admin).json()) == 1


def test_a_key_cannot_outlive_the_key_that_creates_it(runtime: Runtime, dedicated: TestClient) -> None:
    one_day = bearer(issue_key(runtime, "acme", Role.ADMIN, ttl=timedelta(days=1)))
    longer = dedicated.post(
        "/api/v1/api-keys", headers=one_day, json={"name": "heir", "role": "admin", "ttl_days": 365}
    )
    assert longer.status_code == 400 and "remaining lifetime" in longer.json()["detail"]
    default = dedicated.post("/api/v1/api-keys", headers=one_day, json={"name": "heir", "role": "admin"})
    assert default.status_code == 201  # the default lifetime is shortened to fit, not refused
    body = default.json()
    assert body["parent_id"] is not None
    parent = next(k for k in dedicated.get("/api/v1/api-keys", headers=one_day).json() if k["id"] == body["parent_id"])
    assert body["expires_at"] <= parent["expires_at"]


def test_revoking_a_key_revokes_the_keys_it_created(runtime: Runtime, dedicated: TestClient) -> None:
    root = issue_key(runtime, "acme", Role.ADMIN, ttl=timedelta(days=30))
    child = dedicated.post("/api/v1/api-keys", headers=bearer(root), json={"name": "child", "role": "admin"}).json()
    grandchild = dedicated.post(
        "/api/v1/api-keys", headers=bearer(child["secret"]), json={"name": "grandchild", "role": "viewer"}
    ).json()
    other_admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    assert dedicated.delete(f"/api/v1/api-keys/{key_id(root)}", headers=other_admin).status_code == 200
    for token in (child["secret"], grandchild["secret"]):
        assert dedicated.get("/api/v1/api-keys", headers=bearer(token)).status_code == 401
    listed = {k["id"]: k for k in dedicated.get("/api/v1/api-keys", headers=other_admin).json()}
    assert listed[child["id"]]["revoked_at"] and listed[grandchild["id"]]["revoked_at"]


def test_a_whole_key_in_the_path_is_neither_echoed_nor_logged(
    runtime: Runtime, dedicated: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin_token = issue_key(runtime, "acme", Role.ADMIN)
    pasted = issue_key(runtime, "acme", Role.VIEWER)
    with caplog.at_level(logging.INFO, logger="enclave.gateway"):
        response = dedicated.delete(f"/api/v1/api-keys/{pasted}", headers=bearer(admin_token))
    assert response.status_code in (404, 422)
    assert pasted not in response.text and key_id(pasted) not in response.text
    logged = orjson.dumps([record.__dict__.get("path") for record in caplog.records]).decode()
    assert pasted not in logged and "/api/v1/api-keys/{key_id}" in logged
