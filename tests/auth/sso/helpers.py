"""Shared pieces of the SSO tests: a gateway runtime with a provider configured, and a browser-less walk
through the redirect dance (the provider's authorize endpoint answers with a redirect to our callback).

The providers these tests start listen on plain-http loopback: their runtimes turn on the development
setting that allows such providers (`DEV_SSO`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR
from audit.store.tables import audit_records
from auth.sessions import SessionStore
from auth.sso.clients import ProviderClients
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.flow import LoginResult, LoginStart, SignInService
from auth.sso.registry import add_provider, set_policy
from auth.sso.revalidation import SessionRevalidator
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.conftest import make_settings

TENANT = "acme"
CLIENT_ID = "enclave-gateway"
CLIENT_SECRET = "test-client-secret-0123456789"
REDIRECT_URI = "https://acme.example.com/auth/callback"
JIT_POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=True)
DEV_SSO = {"sso_allow_insecure_loopback_issuers": True}
CALLBACK_PARAMETERS = ("state", "code", "error", "iss")


@dataclass(frozen=True)
class Callback:
    state: str | None
    code: str | None
    error: str | None
    iss: str | None = None


def callback_of(url: str) -> Callback:
    query = parse_qs(urlsplit(url).query)
    return Callback(*(query.get(name, [None])[0] for name in CALLBACK_PARAMETERS))


@contextmanager
def opened(database_url: str, data_dir: Path, **overrides: object) -> Iterator[Runtime]:
    """A runtime that allows the tests' loopback providers."""
    runtime = Runtime.open(make_settings(database_url, data_dir, **{**DEV_SSO, **overrides}))
    try:
        yield runtime
    finally:
        runtime.close()


def configure(runtime: Runtime, config: ProviderConfig, policy: SignInPolicy = JIT_POLICY) -> None:
    allow = runtime.settings.sso_allow_insecure_loopback_issuers
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, config, allow_insecure_loopback=allow)
        set_policy(session, runtime.audit, SYSTEM_ACTOR, TENANT, policy)


def oidc_config(issuer: str, name: str = "corp") -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"name": name, "kind": "oidc", "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )


def service(runtime: Runtime, http: httpx.Client | None = None) -> SignInService:
    """A sign-in service as a gateway builds it: its session store re-validates with the providers."""
    clients = ProviderClients(http, allow_insecure_loopback=runtime.settings.sso_allow_insecure_loopback_issuers)
    store = SessionStore(runtime.sessions, revalidation=SessionRevalidator(runtime.sessions, runtime.audit, clients))
    return SignInService(runtime.sessions, runtime.audit, store, clients)


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
            return callback_of(url)
    raise AssertionError("the provider never redirected to the callback")


def finish(svc: SignInService, start: LoginStart, back: Callback, replaces: str | None = None) -> LoginResult:
    """Complete the sign-in `start` began with the callback parameters the provider sent back."""
    return svc.complete(
        TENANT,
        state=back.state,
        code=back.code,
        error=back.error,
        browser_binding=start.browser_binding,
        redirect_uri=REDIRECT_URI,
        iss=back.iss,
        replaces=replaces,
    )


def sign_in(svc: SignInService, provider: str = "corp", login_hint: str | None = None) -> LoginResult:
    start = svc.begin(TENANT, provider, redirect_uri=REDIRECT_URI, next_path="/home")
    url = start.redirect_url + (f"&login_hint={login_hint}" if login_hint else "")
    return finish(svc, start, follow_to_callback(url))


def audit_rows(runtime: Runtime, action: str) -> list[tuple[str, bytes]]:
    """(outcome, body) of each audit record with this action, oldest first."""
    with runtime.sessions() as session:
        query = select(audit_records.c.outcome, audit_records.c.body).where(audit_records.c.action == action)
        return [(row.outcome, row.body) for row in session.execute(query.order_by(audit_records.c.seq))]


def login_at_real_provider(url: str, email: str, browser: httpx.Client | None = None) -> Callback:
    """Walk node oidc-provider's development login and consent screens as `email`, without a browser (or in
    `browser`, which then keeps the provider's session cookies)."""
    with httpx.Client() if browser is None else contextlib.nullcontext(browser) as browser:
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
                return callback_of(url)
    raise AssertionError("the provider never redirected to the callback")


def login_as(
    svc: SignInService,
    subject: str,
    *,
    next_path: str = "/",
    replaces: str | None = None,
    browser: httpx.Client | None = None,
) -> LoginResult:
    """A whole sign-in with the tenant's `corp` provider (a real node oidc-provider) as `subject`."""
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path=next_path)
    return finish(svc, start, login_at_real_provider(start.redirect_url, subject, browser), replaces)
