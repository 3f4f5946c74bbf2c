"""Shared pieces of the SSO tests: a gateway runtime with a provider configured, and a browser-less walk
through the redirect dance (the provider's authorize endpoint answers with a redirect to our callback)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR
from audit.store.tables import audit_records
from auth.sessions import SessionStore
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.flow import LoginResult, SignInService
from auth.sso.registry import add_provider, set_policy
from enclave.db import transaction
from enclave.runtime import Runtime

TENANT = "acme"
CLIENT_ID = "enclave-gateway"
CLIENT_SECRET = "test-client-secret-0123456789"
REDIRECT_URI = "https://acme.example.com/auth/callback"
JIT_POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=True)


@dataclass(frozen=True)
class Callback:
    state: str | None
    code: str | None
    error: str | None


def configure(runtime: Runtime, config: ProviderConfig, policy: SignInPolicy = JIT_POLICY) -> None:
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, config)
        set_policy(session, runtime.audit, SYSTEM_ACTOR, TENANT, policy)


def oidc_config(issuer: str, name: str = "corp") -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"name": name, "kind": "oidc", "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )


def service(runtime: Runtime) -> SignInService:
    return SignInService(runtime.sessions, runtime.audit, SessionStore(runtime.sessions))


def follow_to_callback(url: str, client: httpx.Client | None = None) -> Callback:
    """Follow the provider's redirects until one points at our callback; its query parameters."""
    browser = client or httpx.Client()
    for _ in range(10):
        response = browser.get(url, follow_redirects=False)
        assert response.status_code in (302, 303), response.text[:200]
        url = str(response.headers["location"])
        if not url.startswith("http"):
            url = str(response.url.join(url))
        if url.startswith(REDIRECT_URI):
            query = parse_qs(urlsplit(url).query)
            return Callback(*(query.get(name, [None])[0] for name in ("state", "code", "error")))
    raise AssertionError("the provider never redirected to the callback")


def sign_in(svc: SignInService, provider: str = "corp", login_hint: str | None = None) -> LoginResult:
    start = svc.begin(TENANT, provider, redirect_uri=REDIRECT_URI, next_path="/home")
    url = start.redirect_url + (f"&login_hint={login_hint}" if login_hint else "")
    back = follow_to_callback(url)
    return svc.complete(
        TENANT,
        state=back.state,
        code=back.code,
        error=back.error,
        browser_binding=start.browser_binding,
        redirect_uri=REDIRECT_URI,
    )


def audit_rows(runtime: Runtime, action: str) -> list[tuple[str, bytes]]:
    """(outcome, body) of each audit record with this action, oldest first."""
    with runtime.sessions() as session:
        query = select(audit_records.c.outcome, audit_records.c.body).where(audit_records.c.action == action)
        return [(row.outcome, row.body) for row in session.execute(query.order_by(audit_records.c.seq))]


def login_at_real_provider(url: str, email: str) -> Callback:
    """Walk node oidc-provider's development login and consent screens as `email`, without a browser."""
    with httpx.Client() as browser:
        for _ in range(12):
            response = browser.get(url, follow_redirects=False)
            if response.status_code == 200 and "/interaction/" in url:
                prompt = "login" if 'value="login"' in response.text else "consent"
                form = (
                    {"prompt": prompt, "login": email, "password": "any"} if prompt == "login" else {"prompt": prompt}
                )
                response = browser.post(url, data=form, follow_redirects=False)
            assert response.status_code in (302, 303), response.text[:300]
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(REDIRECT_URI):
                query = parse_qs(urlsplit(url).query)
                return Callback(*(query.get(name, [None])[0] for name in ("state", "code", "error")))
    raise AssertionError("the provider never redirected to the callback")
