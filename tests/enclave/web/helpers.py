"""A gateway with the sign-in pages for tests, against the real node OpenID Provider."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.registry import add_provider, set_policy
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services

PUBLIC_URL = "https://acme.example.com"
DEV_SSO = {"sso_allow_insecure_loopback_issuers": True}  # the tests' OpenID Provider is on plain-http loopback
CLIENT_ID = "enclave-gateway"
CLIENT_SECRET = "web-test-client-secret-0123"


def gateway(runtime: Runtime) -> FastAPI:
    return create_app(Services.build(runtime))


def configure(runtime: Runtime, issuer: str, policy: SignInPolicy) -> None:
    config = ProviderConfig.model_validate(
        {
            "name": "corp",
            "kind": "oidc",
            "issuer": issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "options": {"scopes": ["groups"]},
        }
    )
    allow = runtime.settings.sso_allow_insecure_loopback_issuers
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, "acme", config, allow_insecure_loopback=allow)
        set_policy(session, runtime.audit, SYSTEM_ACTOR, "acme", policy)


def provider_login(authorize_url: str, email: str) -> str:
    """Walk the provider's development login and consent screens; the callback URL it sends back."""
    with httpx.Client() as browser:
        url = authorize_url
        for _ in range(12):
            response = browser.get(url, follow_redirects=False)
            if response.status_code == 200 and "/interaction/" in url:
                prompt = "login" if 'value="login"' in response.text else "consent"
                form = {"prompt": prompt, "login": email, "password": "x"} if prompt == "login" else {"prompt": prompt}
                response = browser.post(url, data=form, follow_redirects=False)
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(PUBLIC_URL):
                return url
    raise AssertionError("the provider never redirected back")


def sign_in(client: TestClient, email: str, next_path: str = "/account") -> httpx.Response:
    """A full browser-less sign-in through the gateway's pages; the callback's response."""
    start = client.get(f"/auth/login/corp?next={next_path}", follow_redirects=False)
    assert start.status_code == 302, start.text
    callback = provider_login(start.headers["location"], email)
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)
