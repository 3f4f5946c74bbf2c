"""The directory's deactivation of a user in a Keycloak-backed tenant finishes at Keycloak (a recording fake of
its Admin REST API: no Keycloak runs here), as an administrator's offboarding does; when Keycloak fails, Enclave
access is gone already, the directory is told 503 with Retry-After, and its retry finishes the job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.keycloak import GatewayClient, KeycloakSpec
from auth.scim.models import ScimUserRow
from auth.users import find_user_by_email
from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Access, Services
from tests.auth.scim.helpers import audit_events, patch, user_payload
from tests.auth.sso.keycloak_fake import ADMIN_CLIENT, FakeKeycloak, fake_keycloak
from tests.conftest import make_settings
from tests.support.scim import issue_scim_token

ORIGIN = "https://acme.example.com"


@pytest.fixture
def keycloak_tenant(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, str, FakeKeycloak]]:
    with fake_keycloak() as keycloak:
        runtime = Runtime.open(
            make_settings(
                sqlite_url,
                tmp_path / "data",
                public_url=ORIGIN,
                keycloak_url=keycloak.base,
                keycloak_admin_client_id=ADMIN_CLIENT[0],
                keycloak_admin_client_secret=ADMIN_CLIENT[1],
                sso_allow_insecure_loopback_issuers=True,  # the fake is plain-http loopback
            )
        )
        services = Services.build(runtime)
        spec = KeycloakSpec(realm="acme", client=GatewayClient(redirect_uris=[f"{ORIGIN}/auth/callback"]))
        services.sso.provision_keycloak(Access.operator("acme", SYSTEM_ACTOR), spec)
        realm = keycloak.realms["acme"]
        realm.users["k1"] = {"id": "k1", "username": "ann", "email": "ann@acme.test", "enabled": True}
        realm.users["k2"] = {"id": "k2", "username": "bo", "email": "bo@acme.test", "enabled": True}
        try:
            with TestClient(create_app(services), base_url=f"{ORIGIN}/scim/v2") as client:
                yield runtime, client, issue_scim_token(runtime), keycloak
        finally:
            runtime.close()


def pending(runtime: Runtime, scim_id: str) -> bool:
    with runtime.sessions() as session:
        row = session.get(ScimUserRow, scim_id)
        assert row is not None
        return row.idp_offboarding_pending


def test_deactivation_reaches_keycloak(keycloak_tenant: tuple[Runtime, TestClient, str, FakeKeycloak]) -> None:
    runtime, client, token, keycloak = keycloak_tenant
    headers = {"Authorization": f"Bearer {token}"}
    ann = client.post("/Users", json=user_payload("ann@acme.test"), headers=headers).json()
    off = client.patch(
        f"/Users/{ann['id']}", json=patch({"op": "replace", "value": {"active": False}}), headers=headers
    )
    assert off.status_code == 200, off.text
    assert keycloak.realms["acme"].users["k1"]["enabled"] is False and keycloak.realms["acme"].logged_out == ["k1"]
    assert keycloak.realms["acme"].users["k2"]["enabled"] is True
    assert not pending(runtime, ann["id"])
    at_keycloak = [e for e in audit_events(runtime, "auth.user.disabled") if e["target"] == "idp-user:ann@acme.test"]
    assert [e["outcome"] for e in at_keycloak] == ["success"]


def test_a_keycloak_failure_is_503_and_the_directorys_retry_finishes_it(
    keycloak_tenant: tuple[Runtime, TestClient, str, FakeKeycloak],
) -> None:
    runtime, client, token, keycloak = keycloak_tenant
    headers = {"Authorization": f"Bearer {token}"}
    bo = client.post("/Users", json=user_payload("bo@acme.test"), headers=headers).json()
    keycloak.fail_path = r"/users$"
    deactivate = patch({"op": "Replace", "path": "active", "value": "False"})
    failed = client.patch(f"/Users/{bo['id']}", json=deactivate, headers=headers)
    assert failed.status_code == 503 and failed.headers["content-type"] == "application/scim+json"
    assert int(failed.headers["retry-after"]) >= 1
    assert "Enclave access is removed" in failed.json()["detail"] and "next request" in failed.json()["detail"]
    with runtime.sessions() as session:
        user = find_user_by_email(session, "acme", "bo@acme.test")
        assert user is not None and user.disabled_at is not None  # Enclave access is gone regardless
    assert pending(runtime, bo["id"]) and keycloak.realms["acme"].users["k2"]["enabled"] is True
    keycloak.fail_path = None
    retried = client.patch(f"/Users/{bo['id']}", json=deactivate, headers=headers)  # the directory retries
    assert retried.status_code == 200, retried.text
    assert keycloak.realms["acme"].users["k2"]["enabled"] is False and not pending(runtime, bo["id"])
    outcomes = [
        e["outcome"] for e in audit_events(runtime, "auth.user.disabled") if e["target"] == "idp-user:bo@acme.test"
    ]
    assert outcomes == ["error", "success"]
    assert len(audit_events(runtime, "auth.user.offboarded")) == 1  # Enclave's part ran once
