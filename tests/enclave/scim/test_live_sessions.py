"""Removal from a group takes the role away at once, live sessions included, on every replica: two gateways on
one MariaDB and one Redis; the directory talks to one (uvicorn on a loopback port, over HTTP), the user's browser
session is served by the other, and its very next request has the new role. Deactivation ends the session there
too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.sessions_authn import SESSION_COOKIE
from auth.users import find_user_by_email
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from tests.auth.scim.helpers import map_roles, patch, user_payload
from tests.conftest import make_settings
from tests.support.scim import issue_scim_token, live_gateway, scim_http

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def replicas(mariadb_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, str, TestClient, Services]]:
    """(the directory's replica and its origin, the browser's replica and its services)."""
    with live_gateway(mariadb_url, tmp_path / "a", cache_url=REDIS) as (runtime, origin):
        map_roles(runtime)
        shared_key = (tmp_path / "a" / "audit-signing-key.pem").read_text()  # replicas share one signing key
        other = Runtime.open(
            make_settings(mariadb_url, tmp_path / "b", cache_url=REDIS, public_url=origin, audit_signing_key=shared_key)
        )
        services = Services.build(other)
        try:
            with TestClient(create_app(services), base_url=origin) as browser:
                yield runtime, origin, browser, services
        finally:
            other.close()


def session_cookie(services: Services, email: str) -> dict[str, str]:
    policy = services.sso.policy(Access.operator("acme", SYSTEM_ACTOR))
    with transaction(services.runtime.sessions) as session:
        user = find_user_by_email(session, "acme", email)
        assert user is not None
        token, _ = services.session_store.create(session, user, policy)
    return {"cookie": f"{SESSION_COOKIE}={token}"}


@pytest.mark.mariadb
@pytest.mark.redis
def test_leaving_a_group_takes_the_role_from_a_live_session_on_another_replica(
    replicas: tuple[Runtime, str, TestClient, Services],
) -> None:
    runtime, origin, browser, services = replicas
    with scim_http(origin, issue_scim_token(runtime)) as directory:
        ann = directory.post("/Users", json=user_payload("ann@acme.test", email="ann@acme.test")).json()
        admins = directory.post("/Groups", json={"displayName": "Enclave Admins", "members": [{"value": ann["id"]}]})
        assert admins.status_code == 201, admins.text
        cookie = session_cookie(services, "ann@acme.test")
        assert browser.get("/api/v1/users", headers=cookie).status_code == 200  # an admin: the hot copy is warm
        removed = directory.patch(
            f"/Groups/{admins.json()['id']}", json=patch({"op": "remove", "path": f'members[value eq "{ann["id"]}"]'})
        )
        assert removed.status_code == 204, removed.text
        assert browser.get("/api/v1/users", headers=cookie).status_code == 403  # the very next request
        assert browser.get("/api/v1/users/me", headers=cookie).json()["role"] == "viewer"
        again = directory.patch(
            f"/Groups/{admins.json()['id']}",
            json=patch({"op": "add", "path": "members", "value": [{"value": ann["id"]}]}),
        )
        assert again.status_code == 204
        assert browser.get("/api/v1/users", headers=cookie).status_code == 200
        off = directory.patch(f"/Users/{ann['id']}", json=patch({"op": "replace", "value": {"active": False}}))
        assert off.status_code == 200 and off.json()["active"] is False
        assert browser.get("/api/v1/users/me", headers=cookie).status_code == 401  # the session is gone
