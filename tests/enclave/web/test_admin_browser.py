"""The customer's console in a real browser: headless Chromium (Debian's, driven by Playwright) against the
gateway over HTTPS on loopback with MariaDB, Redis and node `oidc-provider`. Customer IT signs in, revokes and
restores storage (an end user's request in another browser context is refused, then served), offboards a user
(their open session in another browser context is refused on its next request), and exports the audit log and
verifies the download offline. axe-core, injected into each console page, finds no serious or critical
violation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from audit.events import SYSTEM_ACTOR
from audit.signing import load_public_key
from audit.verify import verify_export
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from storage_connector.backends import parse_spec
from tests.auth.sso.helpers import audit_rows
from tests.conftest import fresh_mariadb, make_settings
from tests.enclave.web.helpers import CLIENT_ID, CLIENT_SECRET, DEV_SSO, configure, gateway
from tests.enclave.web.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, provider_login
from tests.support.oidc.nodeproc import real_provider
from tests.support.tls import self_signed

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
IT = "it@acme.test"
LEAVER = "leaver@acme.test"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime]]:
    """(gateway URL, runtime): the gateway over HTTPS on MariaDB and Redis, customer IT and an end user invited,
    a storage grant connected."""
    directory = tmp_path_factory.mktemp("console")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    with (
        real_provider(
            CLIENT_ID,
            CLIENT_SECRET,
            [f"{base}/auth/callback", f"{base}/admin/identity/test-callback"],
            [f"{base}/auth/signed-out"],
        ) as issuer,
        fresh_mariadb() as database_url,
    ):
        settings = make_settings(
            database_url, directory / "data", public_url=base, cache_url="redis://127.0.0.1:6379/0", **DEV_SSO
        )
        runtime = Runtime.open(settings)
        configure(runtime, issuer, SignInPolicy(allowed_domains=("acme.test",), jit=True))
        with transaction(runtime.sessions) as session:
            for email, role in ((IT, Role.ADMIN), (LEAVER, Role.MEMBER)):
                create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email=email, role=role)
        Services.build(runtime).storage.connect(
            Access.operator("acme", SYSTEM_ACTOR), parse_spec({"backend": "local", "bucket": "data"}), "first run"
        )
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
            yield base, runtime
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


def signed_in(browser: Browser, base: str, email: str, start: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}{start}")
    page.get_by_role("link", name="Sign in with corp").click()
    provider_login(page, email)
    page.wait_for_url(f"{base}{start}")
    return context, page


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page (evaluated over DevTools, so the page's CSP, which
    forbids every script, stays as it is)."""
    page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    assert len(results["passes"]) > 10  # axe did run its rules on this page
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def storage_request(context: BrowserContext, page: Page, base: str) -> int:
    """The end user asks for a signed upload URL with their session (cookie, Origin and CSRF header)."""
    page.goto(f"{base}/account")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    response = context.request.post(
        f"{base}/api/v1/storage/urls",
        data={"items": [{"operation": "put", "key": "report.pdf"}]},
        headers={"Origin": base, "X-CSRF-Token": token},
    )
    return response.status


def test_customer_it_runs_the_console(site: tuple[str, Runtime], browser: Browser, tmp_path: Path) -> None:
    base, runtime = site
    admin_context, admin = signed_in(browser, base, IT, "/admin/users")
    user_context, user = signed_in(browser, base, LEAVER, "/account")
    expect(user.get_by_role("link", name="Users")).to_have_count(0)  # a member has no console links
    assert storage_request(user_context, user, base) == 200

    # every console page is accessible
    for path in (
        "/admin/users",
        "/admin/audit",
        "/admin/storage",
        "/admin/api-keys",
        "/admin/identity",
        "/admin/identity/new",
        "/admin/storage/grants/default/revoke",
        "/account",
    ):
        admin.goto(f"{base}{path}")
        assert serious_violations(admin) == [], path

    # a test sign-in with the tenant's provider reports the claims, and its page is accessible too
    admin.goto(f"{base}/admin/identity")
    admin.get_by_role("link", name="Test sign-in with corp").click()
    if not admin.url.startswith(base):  # the provider asks again (its own session may have lapsed)
        provider_login(admin, IT)
    admin.wait_for_url(f"{base}/admin/identity/test-callback**")
    expect(admin.locator("#trial-result")).to_contain_text("Every check passed")
    expect(admin.get_by_text("signs in as it@acme.test")).to_be_visible()
    assert serious_violations(admin) == []

    # storage: revoke (the end user is refused at once), then restore (served again)
    admin.get_by_role("link", name="Storage").click()
    admin.get_by_role("link", name="Revoke access through default").click()
    admin.get_by_role("button", name="Revoke").click()  # without a reason: the browser asks for one
    expect(admin).to_have_url(f"{base}/admin/storage/grants/default/revoke")
    admin.get_by_label("Reason").fill("suspected key leak")
    admin.get_by_role("button", name="Revoke").click()
    expect(admin.get_by_role("status")).to_contain_text("Access revoked")
    expect(admin.locator("td.state-revoked")).to_contain_text("suspected key leak")
    assert storage_request(user_context, user, base) == 403
    admin.get_by_role("link", name="Restore access through default").click()
    admin.get_by_label("Reason").fill("keys rotated")
    admin.get_by_role("button", name="Restore").click()
    expect(admin.get_by_role("status")).to_contain_text("Access restored")
    assert storage_request(user_context, user, base) == 200
    admin.reload()
    expect(admin.locator("#batches + table")).to_contain_text(LEAVER)  # the batches the end user asked for

    # offboarding: the leaver's open session is refused on its next request
    admin.get_by_role("link", name="Users").click()
    admin.get_by_label("Search by email or name").fill("leaver")
    admin.get_by_role("button", name="Search").click()
    admin.get_by_role("link", name=f"Offboard {LEAVER}").click()
    expect(admin.get_by_role("heading", name=f"Offboard {LEAVER}?")).to_be_visible()
    assert serious_violations(admin) == []
    admin.get_by_label("Reason").fill("left the company")
    admin.get_by_role("button", name="Offboard").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{LEAVER} is offboarded: 1 session(s) ended")
    user.goto(f"{base}/account")
    expect(user.get_by_role("heading", name="Sign in to acme")).to_be_visible()

    # the audit log: the acts are there; export it and verify the download offline
    admin.get_by_role("link", name="Audit log").click()
    admin.get_by_label("Action").select_option("auth.user.offboarded")
    admin.get_by_role("button", name="Show").click()
    expect(admin.locator("table")).to_contain_text("left the company")
    with admin.expect_download() as key_download:
        admin.get_by_role("link", name="download the public key").click()
    key_file = tmp_path / "key.pem"
    key_download.value.save_as(key_file)
    admin.get_by_label("Format").select_option("jsonl")
    admin.locator("#export-since").fill("")
    with admin.expect_download() as export_download:
        admin.get_by_role("button", name="Download export").click()
    export_file = tmp_path / "export.jsonl"
    export_download.value.save_as(export_file)
    with export_file.open("rb") as lines:
        report = verify_export(lines, load_public_key(key_file.read_text()))
    assert report.ok, report.problems
    assert b"auth.user.offboarded" in export_file.read_bytes()
    (offboarded,) = [json.loads(body) for _, body in audit_rows(runtime, "auth.user.offboarded")]
    assert offboarded["actor"]["email"] == IT and offboarded["reason"] == "left the company"
    admin_context.close()
    user_context.close()
