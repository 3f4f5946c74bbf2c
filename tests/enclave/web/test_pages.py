"""The sign-in pages and the account page through the gateway, against the real node OpenID Provider:
cookies, CSRF, sessions, API keys, sign-out; and their refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auth.sessions_authn import LOGIN_COOKIE, SESSION_COOKIE
from auth.sso.config import SignInPolicy
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


@pytest.fixture
def client(runtime: Runtime, issuer: str) -> Iterator[TestClient]:
    configure(runtime, issuer, POLICY)
    with TestClient(gateway(runtime), base_url=PUBLIC_URL) as test_client:
        yield test_client


def test_sign_in_page_lists_providers_with_a_strict_csp(client: TestClient) -> None:
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert 'href="/auth/login/corp"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert "<script" not in page.text and "http" not in page.text.split("<body>", 1)[1].split("</body>")[0]
    refused = client.get("/auth/login?next=//evil.example")
    assert refused.status_code == 400
    assert 'href="/auth/login/corp"' in refused.text  # the providers are still offered, never "none configured"
    assert "No sign-in provider" not in refused.text and "relative path" in refused.text


def test_full_sign_in_sets_a_host_session_cookie_and_shows_the_account(client: TestClient, runtime: Runtime) -> None:
    start = client.get("/auth/login/corp?next=/account", follow_redirects=False)
    login_cookie = start.headers["set-cookie"]
    assert login_cookie.startswith(f"{LOGIN_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert attribute.lower() in login_cookie.lower()
    assert "domain" not in login_cookie.lower()
    client.cookies.clear()
    back = sign_in(client, "alice@acme.test")
    assert back.status_code == 303 and back.headers["location"] == "/account"
    cookies = back.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    for attribute in ("secure", "httponly", "samesite=lax", "path=/"):
        assert attribute in session_cookie.lower()
    page = client.get("/account")
    assert page.status_code == 200
    assert "alice@acme.test" in page.text and "(this browser)" in page.text
    assert json.loads(audit_rows(runtime, "auth.user.created")[0][1])["details"]["via"] == "jit"


def test_refused_user_sees_why_and_gets_no_session(client: TestClient, runtime: Runtime) -> None:
    back = sign_in(client, "mallory@evil.test")
    assert back.status_code == 403
    assert "accounts from evil.test may not sign in" in back.text
    assert not any(c.startswith(SESSION_COOKIE) for c in back.headers.get_list("set-cookie"))
    assert json.loads(audit_rows(runtime, "auth.login.failed")[0][1])["reason"] == "domain_not_allowed"


def test_callback_without_the_login_cookie_is_refused(client: TestClient) -> None:
    start = client.get("/auth/login/corp", follow_redirects=False)
    client.cookies.delete(LOGIN_COOKIE)
    from tests.enclave.web.helpers import provider_login

    callback = provider_login(start.headers["location"], "alice@acme.test")
    response = client.get(callback.removeprefix(PUBLIC_URL), follow_redirects=False)
    assert response.status_code == 403 and "another browser" in response.text


def test_state_changing_forms_need_origin_and_token(client: TestClient) -> None:
    sign_in(client, "bob@acme.test")
    token = csrf_token(client.get("/account").text)
    no_origin = client.post("/account/api-keys", data={"name": "ci", "role": "viewer", "csrf_token": token})
    assert no_origin.status_code == 403
    foreign = client.post(
        "/account/api-keys",
        data={"name": "ci", "role": "viewer", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    no_token = client.post("/account/api-keys", data={"name": "ci", "role": "viewer"}, headers={"Origin": PUBLIC_URL})
    assert no_token.status_code == 403
    made = client.post(
        "/account/api-keys", data={"name": "ci", "role": "viewer", "csrf_token": token}, headers={"Origin": PUBLIC_URL}
    )
    assert made.status_code == 201
    assert "enc_" in made.text and "shown only once" in made.text


def test_api_keys_within_the_users_role_and_revocation(client: TestClient) -> None:
    sign_in(client, "carol@acme.test")  # JIT: viewer
    token = csrf_token(client.get("/account").text)
    headers = {"Origin": PUBLIC_URL}
    above = client.post("/account/api-keys", data={"name": "x", "role": "admin", "csrf_token": token}, headers=headers)
    assert above.status_code == 403 and "cannot create" in above.text
    made = client.post(
        "/account/api-keys", data={"name": "mine", "role": "viewer", "csrf_token": token}, headers=headers
    )
    key_id = made.text.split('id="new-api-key">enc_', 1)[1].split("_", 1)[0]
    revoked = client.post(
        f"/account/api-keys/{key_id}/revoke", data={"csrf_token": token}, headers=headers, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert "revoked" in client.get("/account").text


def test_revoke_another_session_and_sign_out_everywhere(client: TestClient, runtime: Runtime, issuer: str) -> None:
    sign_in(client, "dave@acme.test")
    with TestClient(client.app, base_url=PUBLIC_URL) as laptop:
        sign_in(laptop, "dave@acme.test")
        page = client.get("/account").text
        token = csrf_token(page)
        other = page.split('action="/account/sessions/', 1)[1].split("/revoke", 1)[0]
        revoked = client.post(
            f"/account/sessions/{other}/revoke",
            data={"csrf_token": token},
            headers={"Origin": PUBLIC_URL},
            follow_redirects=False,
        )
        assert revoked.status_code == 303
        assert laptop.get("/account", follow_redirects=False).status_code == 303  # sent to sign in again
        everywhere = client.post(
            "/account/sessions/revoke-all",
            data={"csrf_token": token},
            headers={"Origin": PUBLIC_URL},
            follow_redirects=False,
        )
        assert everywhere.headers["location"] == "/auth/signed-out"
        assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_out_continues_to_the_provider(client: TestClient, runtime: Runtime, issuer: str) -> None:
    sign_in(client, "erin@acme.test")
    page = client.get("/account")
    assert f"form-action 'self' {issuer}" in page.headers["content-security-policy"]
    out = client.post(
        "/auth/logout",
        data={"csrf_token": csrf_token(page.text)},
        headers={"Origin": PUBLIC_URL},
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{issuer}/session/end?client_id={CLIENT_ID}")
    assert client.get("/account", follow_redirects=False).status_code == 303
    assert len(audit_rows(runtime, "auth.logout")) == 1


def test_account_needs_a_session(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/auth/login?next=/account"
    client.cookies.set(SESSION_COOKIE, "forged-token", domain="acme.example.com")
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_in_attempts_are_bounded_per_client_and_audit_nothing_past_it(tmp_path: Path, issuer: str) -> None:
    """The callback audits every refusal without authentication: a client replaying junk callbacks gets its
    budget, then 429 with Retry-After, and the audit log stops growing."""
    settings = make_settings(
        f"sqlite:///{tmp_path / 'e.db'}",
        tmp_path / "data",
        public_url=PUBLIC_URL,
        sign_in_attempts_per_client=5,
        **DEV_SSO,
    )
    opened = Runtime.open(settings)
    try:
        configure(opened, issuer, POLICY)
        with TestClient(gateway(opened), base_url=PUBLIC_URL) as attacker:
            answers = [attacker.get("/auth/callback?state=forged&code=junk").status_code for _ in range(12)]
            refused_start = attacker.get("/auth/login/corp", follow_redirects=False)
        failures = audit_rows(opened, "auth.login.failed")
    finally:
        opened.close()
    assert answers[:5] == [403] * 5 and answers[5:] == [429] * 7
    assert refused_start.status_code == 429 and int(refused_start.headers["Retry-After"]) >= 1
    assert len(failures) == 5
