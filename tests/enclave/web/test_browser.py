"""A real browser through a real sign-in: headless Chromium (Debian's, driven by Playwright) against the
gateway served over HTTPS on loopback and node `oidc-provider` 8.8.1 — code + PKCE, JIT user creation, the
session cookie's attributes, sign-out through the provider's end-session page, and a refused user from a
disallowed domain."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from auth.sessions_authn import SESSION_COOKIE
from auth.sso.config import SignInPolicy
from auth.users import find_user_by_email
from enclave.runtime import Runtime
from tests.conftest import make_settings
from tests.enclave.web.helpers import CLIENT_ID, CLIENT_SECRET, DEV_SSO, configure, gateway
from tests.support.oidc.nodeproc import real_provider
from tests.support.tls import self_signed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Runtime]]:
    """(gateway URL, provider issuer, runtime): the gateway over HTTPS with the pages, the provider."""
    directory = tmp_path_factory.mktemp("browser")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    with real_provider(CLIENT_ID, CLIENT_SECRET, [f"{base}/auth/callback"], [f"{base}/auth/signed-out"]) as issuer:
        runtime = Runtime.open(
            make_settings(f"sqlite:///{directory / 'e.db'}", directory / "data", public_url=base, **DEV_SSO)
        )
        configure(runtime, issuer, SignInPolicy(allowed_domains=("acme.test",), jit=True))
        cert_file, key_file = self_signed(directory)
        server = uvicorn.Server(
            uvicorn.Config(
                gateway(runtime),
                host="127.0.0.1",
                port=port,
                ssl_certfile=str(cert_file),
                ssl_keyfile=str(key_file),
                log_config=None,
                lifespan="on",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        try:
            yield base, issuer, runtime
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            runtime.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def provider_login(page: Page, email: str) -> None:
    """node oidc-provider's development screens: any login and password, then consent."""
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    if page.locator("input[name=prompt][value=consent]").count():
        page.click("button[type=submit]")


def test_browser_signs_in_with_code_and_pkce_then_signs_out(site: tuple[str, str, Runtime], browser: Browser) -> None:
    base, issuer, runtime = site
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{base}/account")
    expect(page.get_by_role("heading", name="Sign in to acme")).to_be_visible()
    page.get_by_role("link", name="Sign in with corp").click()
    assert page.url.startswith(issuer)
    provider_login(page, "alice@acme.test")
    page.wait_for_url(f"{base}/account")
    expect(page.locator("#profile-email")).to_have_text("alice@acme.test")
    expect(page.locator("#profile-role")).to_have_text("viewer")  # JIT with the tenant's default role
    expect(page.get_by_text("(this browser)")).to_be_visible()
    with runtime.sessions() as session:
        assert find_user_by_email(session, "acme", "alice@acme.test") is not None  # created at first sign-in

    (cookie,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1"  # host-only: the __Host- prefix allows no Domain

    page.get_by_role("button", name="Sign out").first.click()  # RP-initiated logout at the provider
    page.wait_for_url(f"{issuer}/**")
    page.locator("button[autofocus], button[type=submit]").first.click()
    page.wait_for_url(f"{base}/auth/signed-out")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{base}/account")
    expect(page.get_by_role("heading", name="Sign in to acme")).to_be_visible()
    context.close()


def test_browser_user_from_a_disallowed_domain_is_refused(site: tuple[str, str, Runtime], browser: Browser) -> None:
    base, _, _ = site
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{base}/auth/login")
    page.get_by_role("link", name="Sign in with corp").click()
    provider_login(page, "mallory@evil.test")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("accounts from evil.test may not sign in")
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    context.close()
