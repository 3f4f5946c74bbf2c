"""The customer's console pages through the gateway, signed in at the real node OpenID Provider: each page for
the roles that may use it, refused (403 page, no link) for the others, CSRF refused, bad input answered with
the form again and a message (400), every act audited by its use case."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.models import User
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import audit_rows
from tests.conftest import make_settings
from tests.enclave.web.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEV_SSO,
    PUBLIC_URL,
    configure,
    csrf_token,
    gateway,
    sign_in,
)
from tests.support.oidc.nodeproc import real_provider

POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=True)
ORIGIN = {"Origin": PUBLIC_URL}
PAGES = ("/admin/users", "/admin/audit", "/admin/storage", "/admin/api-keys", "/admin/identity")


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with real_provider(
        CLIENT_ID, CLIENT_SECRET, [f"{PUBLIC_URL}/auth/callback"], [f"{PUBLIC_URL}/auth/signed-out"]
    ) as url:
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


def invite(runtime: Runtime, email: str, role: Role, name: str | None = None) -> User:
    with transaction(runtime.sessions) as session:
        return create_user(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email=email, role=role, display_name=name
        )


@pytest.fixture
def app_client(runtime: Runtime, issuer: str) -> Iterator[TestClient]:
    configure(runtime, issuer, POLICY)
    with TestClient(gateway(runtime), base_url=PUBLIC_URL) as test_client:
        yield test_client


def signed_in(client: TestClient, runtime: Runtime, email: str, role: Role) -> TestClient:
    invite(runtime, email, role)
    assert sign_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app_client: TestClient, runtime: Runtime) -> TestClient:
    return signed_in(app_client, runtime, "it@acme.test", Role.ADMIN)


def token_of(client: TestClient, path: str) -> str:
    return csrf_token(client.get(path).text)


def details(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in audit_rows(runtime, action)]


# -- navigation and role visibility ---------------------------------------------------------------------------
def test_admin_sees_every_console_page_in_the_navigation(admin: TestClient) -> None:
    page = admin.get("/account")
    assert page.status_code == 200
    for path in (*PAGES, "/files", "/account"):
        assert f'href="{path}"' in page.text
    for path in PAGES:
        shown = admin.get(path)
        assert shown.status_code == 200, (path, shown.text)
        assert f'href="{path}" aria-current="page"' in shown.text
        assert "<script" not in shown.text and "style=" not in shown.text
        assert "default-src 'none'" in shown.headers["content-security-policy"]


def test_member_gets_no_console_links_and_a_403_page(app_client: TestClient, runtime: Runtime) -> None:
    member = signed_in(app_client, runtime, "mo@acme.test", Role.MEMBER)
    account = member.get("/account")
    assert 'href="/files"' in account.text and 'href="/account"' in account.text
    for path in PAGES:
        assert f'href="{path}"' not in account.text
        refused = member.get(path)
        assert refused.status_code == 403, path
        assert "lacks permission" in refused.text and "<h1>Not possible</h1>" in refused.text


def test_security_admin_sees_storage_and_audit_only(app_client: TestClient, runtime: Runtime) -> None:
    security = signed_in(app_client, runtime, "sec@acme.test", Role.SECURITY_ADMIN)
    account = security.get("/account").text
    allowed = {"/admin/storage", "/admin/audit"}
    for path in PAGES:
        assert (f'href="{path}"' in account) is (path in allowed)
        assert security.get(path).status_code == (200 if path in allowed else 403)
    assert 'href="/files"' not in account  # no object access


def test_signed_out_browser_is_sent_to_sign_in(app_client: TestClient) -> None:
    response = app_client.get("/admin/users", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/auth/login?next=/admin/users"


# -- users ------------------------------------------------------------------------------------------------------
def test_users_search_and_keyset_paging(admin: TestClient, runtime: Runtime) -> None:
    for n in range(120):
        invite(runtime, f"user{n:03d}@acme.test", Role.VIEWER, name=f"Person {n:03d}")
    first = admin.get("/admin/users")
    assert "121 users." in first.text  # it@acme.test sorts first: a page holds it and user000..user048
    assert "user000@acme.test" in first.text and "user048@acme.test" in first.text
    assert "user049@acme.test" not in first.text
    after = re.search(r'after=([^"&]+)" rel="next"', first.text)
    assert after is not None
    second = admin.get(f"/admin/users?after={after.group(1)}")
    assert "user049@acme.test" in second.text and "user098@acme.test" in second.text
    assert "user048@acme.test" not in second.text and "user099@acme.test" not in second.text
    found = admin.get("/admin/users?q=PERSON 07")
    assert "10 users match" in found.text and "user079@acme.test" in found.text and "user080" not in found.text
    assert "0 users match" in admin.get("/admin/users?q=%25").text  # a wildcard is a character, not a pattern
    too_long = admin.get("/admin/users?q=" + "x" * 201)
    assert too_long.status_code == 400 and "at most 200 characters" in too_long.text


def test_change_role_is_audited_and_bad_role_is_a_400(admin: TestClient, runtime: Runtime) -> None:
    user = invite(runtime, "ann@acme.test", Role.VIEWER)
    token = token_of(admin, "/admin/users")
    changed = admin.post(
        f"/admin/users/{user.id}/role",
        data={"role": "member", "csrf_token": token},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/admin/users?done=role"
    assert "Role changed" in admin.get(changed.headers["location"]).text
    assert details(runtime, "auth.user.role.changed")[-1]["details"] == {
        "from": "viewer",
        "to": "member",
        "why": "administrator",
    }
    bad = admin.post(f"/admin/users/{user.id}/role", data={"role": "root", "csrf_token": token}, headers=ORIGIN)
    assert bad.status_code == 400 and "Choose one of the roles" in bad.text and "<table" in bad.text
    unknown = admin.post("/admin/users/nobody/role", data={"role": "member", "csrf_token": token}, headers=ORIGIN)
    assert unknown.status_code == 404 and "no user" in unknown.text


def test_forms_without_the_csrf_token_are_refused(admin: TestClient, runtime: Runtime) -> None:
    user = invite(runtime, "bea@acme.test", Role.VIEWER)
    assert admin.post(f"/admin/users/{user.id}/role", data={"role": "member"}, headers=ORIGIN).status_code == 403
    forged = {"role": "member", "csrf_token": "x" * 43}
    assert admin.post(f"/admin/users/{user.id}/role", data=forged, headers=ORIGIN).status_code == 403
    offboard = {"reason": "left", "confirm": "yes"}
    assert admin.post(f"/admin/users/{user.id}/offboard", data=offboard, headers=ORIGIN).status_code == 403
    assert details(runtime, "auth.user.role.changed") == [] and details(runtime, "auth.user.offboarded") == []


def test_offboarding_confirms_asks_a_reason_and_ends_the_users_sessions(
    admin: TestClient, app_client: TestClient, runtime: Runtime, issuer: str
) -> None:
    with TestClient(gateway(runtime), base_url=PUBLIC_URL) as leaver:
        signed_in(leaver, runtime, "leaver@acme.test", Role.MEMBER)
        assert leaver.get("/account").status_code == 200
        with runtime.sessions() as session:
            user = session.query(User).filter_by(email="leaver@acme.test").one()
        confirm = admin.get(f"/admin/users/{user.id}/offboard")
        assert confirm.status_code == 200
        assert "Offboard leaver@acme.test?" in confirm.text and "1 open session(s)" in confirm.text
        assert 'name="reason" required' in confirm.text
        token = csrf_token(confirm.text)
        no_reason = admin.post(
            f"/admin/users/{user.id}/offboard", data={"csrf_token": token, "reason": "  "}, headers=ORIGIN
        )
        assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
        assert leaver.get("/account").status_code == 200  # nothing happened
        done = admin.post(
            f"/admin/users/{user.id}/offboard",
            data={"csrf_token": token, "reason": "left the company"},
            headers=ORIGIN,
        )
        assert done.status_code == 200
        assert "leaver@acme.test is offboarded: 1 session(s) ended" in done.text
        record = details(runtime, "auth.user.offboarded")[-1]
        assert record["reason"] == "left the company" and record["actor"]["id"] != SYSTEM_ACTOR.id
        refused = leaver.get("/account", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/auth/login")
        assert f'href="/admin/users/{user.id}/offboard"' not in admin.get("/admin/users").text
