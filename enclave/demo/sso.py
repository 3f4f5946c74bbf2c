"""The sign-in part of `make demo`: a user signs in to the running gateway through a real local OpenID Provider
(node `oidc-provider`, installed by the project's set-up), is created on first sign-in (JIT), has a session,
and is offboarded from the CLI — which cuts the session off at once."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from auth.sessions_authn import LOGIN_COOKIE, SESSION_COOKIE
from enclave.demo.common import console, run_enclave, step

DEV_PROVIDER = Path(__file__).with_name("dev_oidc_provider.mjs")
CLIENT_ID = "enclave-demo"
USER = "ann@acme.test"


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    raise SystemExit(f"the gateway set no {name} cookie (HTTP {response.status_code})")


def _provider_login(authorize_url: str, email: str, callback_prefix: str) -> str:
    """The provider's development login and consent screens, as a browser would submit them."""
    with httpx.Client(timeout=30) as browser:
        url = authorize_url
        for _ in range(12):
            response = browser.get(url, follow_redirects=False)
            if response.status_code == 200 and "/interaction/" in url:
                consent = 'value="login"' not in response.text
                form = {"prompt": "consent"} if consent else {"prompt": "login", "login": email, "password": "demo"}
                response = browser.post(url, data=form, follow_redirects=False)
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(callback_prefix):
                return url
    raise SystemExit("the OpenID Provider never sent the browser back")


class LocalProvider(NamedTuple):
    issuer: str
    env: dict[str, str]  # the demo's environment plus DEMO_OIDC_SECRET, the client secret the CLI reads


@contextmanager
def local_provider(env: dict[str, str]) -> Iterator[LocalProvider]:
    """A real OpenID Provider (node `oidc-provider`) on a loopback port for the sign-in and console steps."""
    base = env["ENCLAVE_PUBLIC_URL"]
    secret = secrets.token_urlsafe(24)
    config = {
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "redirect_uris": [f"{base}/auth/callback"],
        "post_logout_redirect_uris": [f"{base}/auth/signed-out"],
    }
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed: run make setup")
    provider = subprocess.Popen(  # noqa: S603 - our own script
        [node, str(DEV_PROVIDER), json.dumps(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert provider.stdout is not None
        line = provider.stdout.readline()
        if not line.startswith("listening "):
            raise SystemExit("the local OpenID Provider did not start (is node_modules installed? run make setup)")
        yield LocalProvider(line.split(" ", 1)[1].strip(), {**env, "DEMO_OIDC_SECRET": secret})
    finally:
        provider.terminate()
        provider.wait(timeout=10)


def run_sso_demo(client: httpx.Client, env: dict[str, str], tenant: str, provider: LocalProvider) -> None:
    step("8. Sign in through a local OpenID Provider (node oidc-provider): JIT user, session, offboarding")
    base = env["ENCLAVE_PUBLIC_URL"]
    issuer = provider.issuer
    console.print(f"OpenID Provider at {issuer} (a real node oidc-provider 8.8.1)")
    run_enclave(
        "sso",
        "add",
        "local",
        "--tenant",
        tenant,
        "--kind",
        "oidc",
        "--issuer",
        issuer,
        "--client-id",
        CLIENT_ID,
        "--client-secret-env",
        "DEMO_OIDC_SECRET",
        env=provider.env,
    )
    run_enclave("sso", "policy", "--tenant", tenant, "--domain", "acme.test", "--jit", env=env)
    console.print("$ enclave sso add local --kind oidc …; enclave sso policy --domain acme.test --jit")
    sealed = run_enclave("secrets", "check", env=env)
    console.print(
        f"the client secret is stored sealed (AES-256-GCM), never in clear:\n$ enclave secrets check\n{sealed.stdout}"
    )

    start = client.get("/auth/login/local", params={"next": "/account"}, follow_redirects=False)
    binding = _cookie(start, LOGIN_COOKIE)
    console.print(
        f"the gateway sends the browser to the provider with PKCE S256, state and nonce:\n  "
        f"{urlsplit(start.headers['location']).path}?…code_challenge_method=S256…"
    )
    callback = _provider_login(start.headers["location"], USER, base)
    # httpx keeps no Secure cookie over plain HTTP, so this step carries the cookies itself (Chromium, in the
    # console step, treats loopback as a secure origin and keeps them).
    back = client.get(
        urlsplit(callback).path + "?" + urlsplit(callback).query,
        headers={"Cookie": f"{LOGIN_COOKIE}={binding}"},
        follow_redirects=False,
    )
    session = {"Cookie": f"{SESSION_COOKIE}={_cookie(back, SESSION_COOKIE)}"}
    me = client.get("/api/v1/users/me", headers=session)
    me.raise_for_status()
    console.print(f"signed in as {me.json()['email']} with role {me.json()['role']} (created just now: JIT)")
    sessions = client.get("/api/v1/sessions", headers=session).json()
    console.print(
        f"live sessions: {len(sessions)}; the account page answers HTTP "
        f"{client.get('/account', headers=session, follow_redirects=False).status_code}"
    )

    offboarded = run_enclave("users", "offboard", USER, "--tenant", tenant, env=env)
    console.print(f"$ enclave users offboard {USER} --tenant {tenant}\n{offboarded.stdout.strip()}")
    after = client.get("/api/v1/users/me", headers=session)
    console.print(
        f"the same session cookie now: HTTP {after.status_code}; the account page redirects to "
        f"{client.get('/account', headers=session, follow_redirects=False).headers['location']}"
    )
