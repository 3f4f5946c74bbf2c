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
from audit.signing import load_public_key
from audit.verify import verify_export
from auth.models import User
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.sso.registry import get_provider
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services, audit_browse
from storage_connector.backends import parse_spec
from tests.auth.sso.helpers import audit_rows
from tests.conftest import make_settings
from tests.enclave.api.helpers import bearer, issue_key, key_id
from tests.enclave.web.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEV_SSO,
    PUBLIC_URL,
    configure,
    csrf_token,
    gateway,
    provider_login,
    sign_in,
)
from tests.support.oidc.nodeproc import real_provider

POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=True)
ORIGIN = {"Origin": PUBLIC_URL}
PAGES = ("/admin/users", "/admin/audit", "/admin/storage", "/admin/api-keys", "/admin/identity")


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    callbacks = [f"{PUBLIC_URL}/auth/callback", f"{PUBLIC_URL}/admin/identity/test-callback"]
    with real_provider(CLIENT_ID, CLIENT_SECRET, callbacks, [f"{PUBLIC_URL}/auth/signed-out"]) as url:
        yield url


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The gateway's runtime on SQLite and on MariaDB (each test runs on both)."""
    opened = Runtime.open(make_settings(database_url, tmp_path / "data", public_url=PUBLIC_URL, **DEV_SSO))
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


# -- storage ----------------------------------------------------------------------------------------------------
def connect_local_grant(runtime: Runtime) -> None:
    Services.build(runtime).storage.connect(
        Access.operator("acme", SYSTEM_ACTOR), parse_spec({"backend": "local", "bucket": "data"}), "first run"
    )


def test_storage_shows_grants_and_url_batches_without_signatures(admin: TestClient, runtime: Runtime) -> None:
    connect_local_grant(runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    items = [
        {"operation": "put", "key": "a.txt"},
        {"operation": "put", "key": "b.txt"},
        {"operation": "get", "key": "a.txt"},
    ]
    issued = admin.post("/api/v1/storage/urls", headers=member, json={"items": items})
    assert issued.status_code == 200, issued.text
    urls = [item["url"] for item in issued.json()["urls"]]
    page = admin.get("/admin/storage")
    assert page.status_code == 200
    assert "<strong>active</strong>" in page.text and "not run yet" in page.text
    assert "get: 1, put: 2" in page.text and "<td>3</td>" in page.text
    for url in urls:
        assert url not in page.text and url.split("?", 1)[1] not in page.text  # no URL, no signature


def test_storage_revoke_and_restore_are_confirmed_with_a_reason(admin: TestClient, runtime: Runtime) -> None:
    connect_local_grant(runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    put = {"items": [{"operation": "put", "key": "a.txt"}]}
    confirm = admin.get("/admin/storage/grants/default/revoke")
    assert confirm.status_code == 200 and "Revoke access through the grant default?" in confirm.text
    token = csrf_token(confirm.text)
    no_reason = admin.post("/admin/storage/grants/default/revoke", data={"csrf_token": token}, headers=ORIGIN)
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    assert admin.post("/api/v1/storage/urls", headers=member, json=put).status_code == 200  # still active
    revoked = admin.post(
        "/admin/storage/grants/default/revoke",
        data={"csrf_token": token, "reason": "incident 42"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/storage?done=revoke"
    page = admin.get(revoked.headers["location"]).text
    assert "Access revoked" in page and "revoked in Enclave" in page and "incident 42" in page
    assert admin.post("/api/v1/storage/urls", headers=member, json=put).status_code == 403
    assert details(runtime, "storage.grant.revoked")[-1]["reason"] == "incident 42"
    restored = admin.post(
        "/admin/storage/grants/default/restore",
        data={"csrf_token": token, "reason": "contained"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert restored.status_code == 303 and restored.headers["location"] == "/admin/storage?done=restore"
    assert admin.post("/api/v1/storage/urls", headers=member, json=put).status_code == 200
    assert details(runtime, "storage.grant.restored")[-1]["reason"] == "contained"
    assert admin.get("/admin/storage/grants/nothing/revoke").status_code == 404
    assert admin.get("/admin/storage/grants/default/explode").status_code == 404
    bogus = admin.post(
        "/admin/storage/grants/nothing/revoke", data={"csrf_token": token, "reason": "x"}, headers=ORIGIN
    )
    assert bogus.status_code == 404


def test_security_admin_revokes_storage_but_member_is_refused(app_client: TestClient, runtime: Runtime) -> None:
    connect_local_grant(runtime)
    member = signed_in(app_client, runtime, "mo@acme.test", Role.MEMBER)
    token = token_of(member, "/account")
    refused = member.post(
        "/admin/storage/grants/default/revoke", data={"csrf_token": token, "reason": "why not"}, headers=ORIGIN
    )
    assert refused.status_code == 403 and "lacks permission" in refused.text
    assert details(runtime, "storage.grant.revoked") == []


# -- audit log --------------------------------------------------------------------------------------------------
def test_audit_log_filters_pages_newest_first_and_refuses_bad_filters(admin: TestClient, runtime: Runtime) -> None:
    for n in range(60):
        invite(runtime, f"p{n:02d}@acme.test", Role.VIEWER)
    page = admin.get("/admin/audit?action=auth.user.created")
    assert page.status_code == 200
    seqs = [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", page.text)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'before=(\d+)" rel="next"', page.text)
    assert older is not None and int(older.group(1)) == seqs[-1]
    rest = admin.get(f"/admin/audit?action=auth.user.created&before={older.group(1)}")
    rest_seqs = [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", rest.text)]
    assert rest_seqs and max(rest_seqs) < seqs[-1] and 'rel="next"' not in rest.text
    assert len(seqs) + len(rest_seqs) == len(details(runtime, "auth.user.created"))
    with runtime.sessions() as session:
        it = session.query(User).filter_by(email="it@acme.test").one()
    assert f'href="/admin/audit?actor={it.id}"' in admin.get("/admin/users").text
    own = admin.get(f"/admin/audit?actor={it.id}").text
    assert "it@acme.test" in own and "audit.queried" in own  # the administrator's own page views
    denied = admin.get("/admin/audit?outcome=denied&action=auth.user.created")
    assert "No record matches." in denied.text
    assert details(runtime, "audit.queried")[-1]["details"]["view"] == "console"
    future = admin.get("/admin/audit?since=2999-01-01T00:00")
    assert future.status_code == 200 and "No record matches." in future.text
    for query, message in (
        ("since=yesterday", "is not a date and time"),
        ("since=2026-12-06T10:00&until=2026-12-06T09:00", "must be earlier"),
        ("action=auth.nothing", "Choose an action"),
        ("outcome=maybe", "Choose an outcome"),
        ("before=-3", "does not exist"),
        ("before=abc", "does not exist"),
    ):
        bad = admin.get(f"/admin/audit?{query}")
        assert bad.status_code == 400 and message in bad.text, query


def test_audit_export_downloads_a_verifiable_file(admin: TestClient, runtime: Runtime) -> None:
    page = admin.get("/admin/audit").text
    assert "enclave audit verify" in page and 'href="/admin/audit/public-key.pem"' in page
    key = admin.get("/admin/audit/public-key.pem")
    assert key.status_code == 200 and "attachment" in key.headers["content-disposition"]
    exported = admin.get("/admin/audit/export?format=jsonl")
    assert exported.status_code == 200 and exported.headers["content-disposition"].endswith('.jsonl"')
    report = verify_export(exported.content.splitlines(keepends=True), load_public_key(key.text))
    assert report.ok, report.problems
    assert details(runtime, "audit.exported")[-1]["details"]["format"] == "jsonl"
    csv = admin.get("/admin/audit/export?format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert admin.get("/admin/audit/export?format=xml").status_code == 400
    bad_range = admin.get("/admin/audit/export?since=2026-12-06T10:00&until=2026-12-06T09:00")
    assert bad_range.status_code == 400 and "must be earlier" in bad_range.text


def test_auditor_reads_the_log_but_security_admin_only_via_its_role(app_client: TestClient, runtime: Runtime) -> None:
    auditor = signed_in(app_client, runtime, "aud@acme.test", Role.AUDITOR)
    assert auditor.get("/admin/audit").status_code == 200
    assert auditor.get("/admin/audit/export?format=csv").status_code == 200
    assert auditor.get("/admin/users").status_code == 403


# -- API keys ---------------------------------------------------------------------------------------------------
def test_api_keys_list_and_revoke_after_confirmation(admin: TestClient, runtime: Runtime) -> None:
    token_value = issue_key(runtime, "acme", Role.VIEWER)
    kid = key_id(token_value)
    page = admin.get("/admin/api-keys")
    assert page.status_code == 200 and f"<code>{kid}</code>" in page.text
    confirm = admin.get(f"/admin/api-keys/{kid}/revoke")
    assert confirm.status_code == 200 and "Revoke the API key" in confirm.text
    token = csrf_token(confirm.text)
    assert admin.post(f"/admin/api-keys/{kid}/revoke", data={}, headers=ORIGIN).status_code == 403  # no CSRF token
    assert admin.get("/api/v1/users/me", headers=bearer(token_value)).status_code != 401
    done = admin.post(
        f"/admin/api-keys/{kid}/revoke", data={"csrf_token": token}, headers=ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/api-keys?done=revoked"
    assert admin.get("/api/v1/audit/events", headers=bearer(token_value)).status_code == 401
    assert details(runtime, "auth.apikey.revoked")[-1]["target"].endswith(kid)
    assert admin.get(f"/admin/api-keys/{kid}/revoke").status_code == 404  # already revoked
    missing = admin.post("/admin/api-keys/nonexistent1/revoke", data={"csrf_token": token}, headers=ORIGIN)
    assert missing.status_code == 404


# -- identity providers -----------------------------------------------------------------------------------------
def test_identity_providers_add_edit_remove(admin: TestClient, runtime: Runtime, issuer: str) -> None:
    page = admin.get("/admin/identity")
    assert page.status_code == 200 and "<td>corp</td>" in page.text and CLIENT_SECRET not in page.text
    token = csrf_token(admin.get("/admin/identity/new").text)
    form = {"csrf_token": token, "name": "okta", "kind": "oidc", "issuer": issuer, "client_id": "c1"}
    added = admin.post("/admin/identity/new", data={**form, "client_secret": "s3cr3t-value-1"}, headers=ORIGIN)
    assert added.status_code == 200 and "Identity provider added." in added.text and "<td>okta</td>" in added.text
    assert "s3cr3t-value-1" not in added.text
    edit = admin.get("/admin/identity/okta/edit")
    assert edit.status_code == 200 and f'value="{issuer}"' in edit.text and "s3cr3t-value-1" not in edit.text
    saved = admin.post(
        "/admin/identity/okta/edit", data={**form, "client_id": "c2", "scopes": "groups offline_access"}, headers=ORIGIN
    )
    assert saved.status_code == 200 and "<code>c2</code>" in saved.text
    with runtime.sessions() as session:
        row = get_provider(session, "acme", "okta")
        assert row is not None and row.client_secret == "s3cr3t-value-1"  # kept when left empty
        assert row.options == {"scopes": ["groups", "offline_access"]}
    assert details(runtime, "sso.provider.added")[-1]["target"] == "sso-provider:okta"
    assert all("s3cr3t" not in body.decode() for _, body in audit_rows(runtime, "sso.provider.updated"))
    confirm = admin.get("/admin/identity/okta/remove")
    assert confirm.status_code == 200 and "Remove the identity provider okta?" in confirm.text
    removed = admin.post("/admin/identity/okta/remove", data={"csrf_token": token}, headers=ORIGIN)
    assert removed.status_code == 200 and "<td>okta</td>" not in removed.text
    assert admin.get("/admin/identity/okta/edit").status_code == 404


def test_identity_provider_bad_input_is_shown_on_the_form(admin: TestClient, issuer: str) -> None:
    token = csrf_token(admin.get("/admin/identity/new").text)
    base = {"csrf_token": token, "kind": "oidc", "client_id": "c1", "client_secret": "typed-secret-9"}
    for form, message in (
        ({"name": "Bad Name", "issuer": issuer}, "provider name must be"),
        ({"name": "x1"}, "needs its issuer URL"),
        ({"name": "x2", "issuer": "ftp://idp.example"}, "must be an https URL"),
        ({"name": "x3", "issuer": issuer, "hosted_domain": "acme.test"}, "do not apply to a oidc provider"),
        ({"name": "x4", "issuer": issuer, "kind": "saml"}, "kind"),
        ({"name": "corp", "issuer": issuer}, "already has a provider named"),
    ):
        response = admin.post("/admin/identity/new", data={**base, **form}, headers=ORIGIN)
        assert response.status_code == 400 and message in response.text, (form, response.text[-2000:])
        assert "typed-secret-9" not in response.text and 'role="alert"' in response.text


def test_test_sign_in_reports_claims_and_opens_no_session(admin: TestClient, runtime: Runtime) -> None:
    page = admin.get("/admin/identity")
    assert f"{PUBLIC_URL}/admin/identity/test-callback" in page.text
    start = admin.get("/admin/identity/corp/test", follow_redirects=False)
    assert start.status_code == 303
    callback = provider_login(start.headers["location"], "newbie@acme.test")
    assert callback.startswith(f"{PUBLIC_URL}/admin/identity/test-callback?")
    report = admin.get(callback.removeprefix(PUBLIC_URL))
    assert report.status_code == 200, report.text
    assert "Every check passed" in report.text and "identity validation" in report.text
    assert "<code>email</code>" in report.text and "newbie@acme.test" in report.text
    assert "would create the user newbie@acme.test (just-in-time)" in report.text
    assert "<code>nonce</code>" not in report.text and "code=" not in report.text
    with runtime.sessions() as session:
        assert session.query(User).filter_by(email="newbie@acme.test").one_or_none() is None
    assert len(details(runtime, "auth.login.succeeded")) == 1  # the administrator's own sign-in only
    replay = admin.get(callback.removeprefix(PUBLIC_URL))  # the state is used up
    assert "Failed at <strong>sign-in state and browser binding</strong>" in replay.text
    passed, replayed = details(runtime, "sso.provider.tested")  # both tests are recorded, with how they ended
    assert (passed["outcome"], passed["target"], passed["details"]["failed_step"]) == (
        "success",
        "sso-provider:corp",
        None,
    )
    assert passed["details"]["subject"] and "claims" not in passed["details"]
    assert (replayed["outcome"], replayed["details"]["failed_step"]) == (
        "denied",
        "sign-in state and browser binding",
    )
    assert replayed["reason"] and "code=" not in json.dumps([passed, replayed])


def test_test_sign_in_state_never_opens_a_session_at_the_real_callback(admin: TestClient) -> None:
    start = admin.get("/admin/identity/corp/test", follow_redirects=False)
    callback = provider_login(start.headers["location"], "newbie@acme.test")
    real = admin.get("/auth/callback?" + callback.split("?", 1)[1], follow_redirects=False)
    assert real.status_code in (400, 403) and "session" not in real.headers.get("location", "")


def test_test_sign_in_reports_the_failed_step(admin: TestClient) -> None:
    start = admin.get("/admin/identity/corp/test", follow_redirects=False)
    callback = provider_login(start.headers["location"], "other@evil.test")
    query = callback.split("?", 1)[1]
    wrong_issuer = admin.get(
        f"/admin/identity/test-callback?{query}".replace("iss=", "iss=https%3A%2F%2Fevil.example%2F&x=")
    )
    assert "Failed at <strong>response issuer (RFC 9207)</strong>" in wrong_issuer.text
    start = admin.get("/admin/identity/corp/test", follow_redirects=False)
    callback = provider_login(start.headers["location"], "other@evil.test")
    admin.cookies.delete("__Host-enclave-trial")
    unbound = admin.get(callback.removeprefix(PUBLIC_URL))
    assert "Failed at <strong>sign-in state and browser binding</strong>" in unbound.text
    assert "another browser" in unbound.text
    denied = admin.get("/admin/identity/test-callback?error=access_denied&state=x")
    assert "Failed at" in denied.text and denied.status_code == 200
    assert admin.get("/admin/identity/nothing/test").status_code == 404


def test_test_sign_in_reports_what_the_policy_refuses(admin: TestClient) -> None:
    start = admin.get("/admin/identity/corp/test", follow_redirects=False)
    callback = provider_login(start.headers["location"], "mallory@evil.test")
    report = admin.get(callback.removeprefix(PUBLIC_URL)).text
    assert "Every check passed" in report and "refused: accounts from evil.test may not sign in" in report


def test_a_filtered_audit_page_searches_a_bounded_window_and_continues(
    admin: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_browse, "SCAN_WINDOW", 30)
    rare = invite(runtime, "rare@acme.test", Role.VIEWER)
    for n in range(80):
        invite(runtime, f"filler{n:02d}@acme.test", Role.VIEWER)
    wanted = details(runtime, "auth.user.created")
    (rare_seq,) = [r["seq"] for r in wanted if r["target"] == f"user:{rare.id}"]
    first = admin.get(f"/admin/audit?action=auth.user.created&actor={SYSTEM_ACTOR.id}&outcome=success")
    assert "Searched back to record" in first.text and "Search older records" in first.text
    seen: list[int] = []
    page = first
    for _ in range(10):
        seen += [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", page.text)]
        older = re.search(r'before=(\d+)" rel="next"', page.text)
        if older is None:
            break
        page = admin.get(f"/admin/audit?action=auth.user.created&actor={SYSTEM_ACTOR.id}&before={older.group(1)}")
    assert rare_seq in seen and seen == sorted(seen, reverse=True)
    assert len(seen) == len(wanted)


def test_api_keys_page_newest_first_with_keyset_paging(admin: TestClient, runtime: Runtime) -> None:
    ids = [key_id(issue_key(runtime, "acme", Role.VIEWER)) for _ in range(105)]
    first = admin.get("/admin/api-keys").text
    shown = re.findall(r"<td><code>([0-9a-f]{12})</code></td>", first)
    assert len(shown) == 100 and set(shown) <= set(ids)
    older = re.search(r'after=([0-9a-f]{12})" rel="next"', first)
    assert older is not None and older.group(1) == shown[-1]
    second = admin.get(f"/admin/api-keys?after={older.group(1)}").text
    rest = re.findall(r"<td><code>([0-9a-f]{12})</code></td>", second)
    assert sorted(shown + rest) == sorted(ids) and 'rel="next"' not in second
    assert admin.get("/admin/api-keys?after=000000000000").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users?after=" + "z" * 5000,
        "/admin/users?q=%00%27%22%5C",
        "/admin/audit?before=99999999999999999999999",
        "/admin/audit?actor=" + "a" * 600,
        "/admin/audit?since=9999-12-31T23:59",
        "/admin/audit?since=0001-01-01T00:00",
        "/admin/audit/export?since=nonsense",
        "/admin/api-keys?after=" + "k" * 300,
        "/admin/api-keys/%00/revoke",
        "/admin/storage/grants/%27%22/revoke",
        "/admin/identity/%2e%2e/edit",
        "/admin/identity/test-callback",
        "/admin/identity/test-callback?state=" + "s" * 500,
        "/admin/users/" + "u" * 300 + "/offboard",
    ],
)
def test_odd_input_is_refused_with_a_page_never_a_500(admin: TestClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code < 500, response.text[-500:]
    assert response.headers["content-type"].startswith("text/html")
