"""The SSO, sessions and users APIs: roles enforced for API keys and signed-in users alike, the session
cookie as one more credential (with CSRF on state-changing calls), offboarding over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.apikeys import create_api_key
from auth.roles import Role
from auth.sso.config import SignInPolicy
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import audit_rows
from tests.conftest import make_settings
from tests.enclave.web.helpers import CLIENT_ID, CLIENT_SECRET, DEV_SSO, PUBLIC_URL, configure, gateway, sign_in
from tests.support.oidc.nodeproc import real_provider

POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=True, role_claim="groups", role_map={"it-admins": Role.ADMIN})
GROUPS = {"root@acme.test": ["it-admins"]}


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with real_provider(CLIENT_ID, CLIENT_SECRET, [f"{PUBLIC_URL}/auth/callback"], [], GROUPS) as url:
        yield url


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(
        make_settings(f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data", public_url=PUBLIC_URL, **DEV_SSO)
    )
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def app(runtime: Runtime, issuer: str) -> Iterator[TestClient]:
    configure(runtime, issuer, POLICY)
    with TestClient(gateway(runtime), base_url=PUBLIC_URL) as client:
        yield client


def key(runtime: Runtime, role: Role) -> dict[str, str]:
    with transaction(runtime.sessions) as session:
        issued = create_api_key(
            session,
            runtime.audit,
            SYSTEM_ACTOR,
            tenant_id="acme",
            role=role,
            name=f"{role}-key",
            ttl=timedelta(days=1),
            max_ttl=timedelta(days=2),
        )
    return {"Authorization": f"Bearer {issued.secret}"}


def browser(app: TestClient, email: str) -> TestClient:
    client = TestClient(app.app, base_url=PUBLIC_URL)
    response = sign_in(client, email)
    assert response.status_code == 303, response.text
    return client


def test_sso_admin_api_with_roles_enforced(app: TestClient, runtime: Runtime) -> None:
    admin, viewer = key(runtime, Role.ADMIN), key(runtime, Role.VIEWER)
    assert app.get("/api/v1/sso/providers", headers=viewer).status_code == 403
    listed = app.get("/api/v1/sso/providers", headers=admin)
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()] == ["corp"] and listed.json()[0]["has_client_secret"] is True
    assert CLIENT_SECRET not in listed.text
    body = {"name": "gh", "kind": "github", "client_id": "Iv1.x", "client_secret": "gh-secret-value"}
    created = app.post("/api/v1/sso/providers", headers=admin, json=body)
    assert created.status_code == 201 and "gh-secret-value" not in created.text
    assert app.post("/api/v1/sso/providers", headers=admin, json=body).status_code == 409
    bad = app.post("/api/v1/sso/providers", headers=admin, json={**body, "name": "gh2", "client_secret": None})
    assert bad.status_code == 422  # the schema says GitHub needs its secret
    team_without_org = {**body, "name": "gh3", "membership": {"team": "sec"}}
    assert app.post("/api/v1/sso/providers", headers=admin, json=team_without_org).status_code == 422
    entra = {
        "name": "entra",
        "kind": "microsoft",
        "client_id": "app",
        "endpoint": "organizations",
        "allowed_tenant_ids": ["9188040d-6c67-4c5b-b112-36a304b66dad"],
    }
    made = app.post("/api/v1/sso/providers", headers=admin, json=entra)
    assert made.status_code == 201 and made.json()["options"]["directory"] == "organizations"
    assert app.delete("/api/v1/sso/providers/gh", headers=admin).status_code == 204
    assert app.delete("/api/v1/sso/providers/gh", headers=admin).status_code == 404
    mapping = {"claim": "groups", "roles": {"it-admins": "admin"}}
    policy = app.put(
        "/api/v1/sso/policy", headers=admin, json={"allowed_domains": ["acme.test"], "role_mapping": mapping}
    )
    assert policy.status_code == 200 and policy.json()["jit"] is False and policy.json()["role_mapping"] == mapping
    timeouts = {"idle_timeout_seconds": 7200, "absolute_timeout_seconds": 3600}
    clamped = app.put("/api/v1/sso/policy", headers=admin, json=timeouts)
    assert clamped.json()["idle_timeout_seconds"] == 3600  # an idle limit past the absolute one is the absolute one
    assert app.put("/api/v1/sso/policy", headers=admin, json={"allowed_domains": ["Not A Domain"]}).status_code == 422
    assert app.get("/api/v1/sso/policy", headers=admin).json()["absolute_timeout_seconds"] == 3600
    assert len(audit_rows(runtime, "sso.policy.updated")) == 3  # the fixture's and these two


def test_signed_in_user_is_a_principal_with_csrf_on_writes(app: TestClient, runtime: Runtime) -> None:
    ann = browser(app, "ann@acme.test")
    me = ann.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["email"] == "ann@acme.test" and me.json()["role"] == "viewer"
    assert ann.get("/api/v1/users").status_code == 403  # a viewer lacks users.admin
    assert ann.get("/api/v1/sso/providers").status_code == 403
    payload = {"name": "script", "role": "viewer"}
    assert ann.post("/api/v1/users/me/api-keys", json=payload).status_code == 403  # no Origin, no token
    sessions = ann.get("/api/v1/sessions").json()
    assert len(sessions) == 1 and sessions[0]["current"] is True
    page = ann.get("/account").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    headers = {"Origin": PUBLIC_URL, "X-CSRF-Token": token}
    made = ann.post("/api/v1/users/me/api-keys", json=payload, headers=headers)
    assert made.status_code == 201 and made.json()["secret"].startswith("enc_")
    above = ann.post("/api/v1/users/me/api-keys", json={"name": "x", "role": "admin"}, headers=headers)
    assert above.status_code == 403
    script = {"Authorization": f"Bearer {made.json()['secret']}"}
    assert app.get("/api/v1/sessions", headers=script).status_code == 403  # API keys have no sessions


def test_admin_changes_roles_revokes_sessions_and_offboards(app: TestClient, runtime: Runtime) -> None:
    root = browser(app, "root@acme.test")  # the it-admins group maps to admin
    assert root.get("/api/v1/users/me").json()["role"] == "admin"
    bob = browser(app, "bob@acme.test")
    bob_id = bob.get("/api/v1/users/me").json()["id"]
    admin = key(runtime, Role.ADMIN)
    promoted = app.put(f"/api/v1/users/{bob_id}/role", headers=admin, json={"role": "member"})
    assert promoted.status_code == 200
    assert bob.get("/api/v1/users/me").json()["role"] == "member"  # the live session sees it at once
    sessions = app.get("/api/v1/sessions", headers=admin, params={"user_id": bob_id}).json()
    assert len(sessions) == 1
    too_long = app.post(f"/api/v1/users/{bob_id}/offboard", headers=admin, json={"reason": "x" * 501})
    assert too_long.status_code == 422 and bob.get("/api/v1/users/me").status_code == 200  # refused, nothing done
    report = app.post(f"/api/v1/users/{bob_id}/offboard", headers=admin, json={"reason": "left the company"})
    assert report.status_code == 200
    assert b'"reason":"left the company"' in audit_rows(runtime, "auth.user.offboarded")[0][1]
    assert report.json()["sessions_ended"] == 1 and report.json()["idp_accounts_disabled"] is None
    assert bob.get("/api/v1/users/me").status_code == 401
    assert app.post("/api/v1/users/00000000000000000000000000000000/offboard", headers=admin).status_code == 404
    assert len(audit_rows(runtime, "auth.user.offboarded")) == 1


def test_another_users_session_is_not_found(app: TestClient, runtime: Runtime) -> None:
    carl, dora = browser(app, "carl@acme.test"), browser(app, "dora@acme.test")
    dora_session = dora.get("/api/v1/sessions").json()[0]["public_id"]
    token = carl.get("/account").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = carl.delete(f"/api/v1/sessions/{dora_session}", headers={"Origin": PUBLIC_URL, "X-CSRF-Token": token})
    assert response.status_code == 404
    assert dora.get("/api/v1/users/me").status_code == 200
    ended = carl.delete("/api/v1/sessions", headers={"Origin": PUBLIC_URL, "X-CSRF-Token": token})
    assert ended.json() == {"revoked": 1}
    assert carl.get("/api/v1/users/me").status_code == 401
