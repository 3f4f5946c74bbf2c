"""The console part of `make demo`: headless Chromium (Debian's, driven by Playwright) signs in through the
local OpenID Provider as customer IT and as an end user, opens every page its navigation offers, and saves a
screenshot of each under .enclave/demo/console/ — what a person opening the console would see."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, sync_playwright

from enclave.demo.common import DEMO_DIR, console, run_enclave, step
from enclave.demo.sso import LocalProvider

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SCREENSHOTS = DEMO_DIR / "console"
CUSTOMER_IT = "it@acme.test"
END_USER = "bob@acme.test"


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run make setup (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(context: BrowserContext, base: str, email: str) -> Page:
    """Sign in with the local provider's development login and consent screens, as a person would."""
    page = context.new_page()
    page.goto(f"{base}/auth/login/local?next=/account")
    for _ in range(6):
        if page.url.startswith(base):
            break
        if page.locator("input[name=login]").count():
            page.fill("input[name=login]", email)
            page.fill("input[name=password]", "demo")
        page.locator("button[type=submit]").first.click()
        page.wait_for_load_state()
    if not page.url.startswith(f"{base}/account"):
        raise SystemExit(f"{email} did not reach the console after signing in (at {page.url})")
    return page


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def screenshot_navigation(page: Page, base: str, who: str) -> list[Path]:
    """Every page the signed-in user's navigation links to (what their role may see), one screenshot each."""
    links = page.locator("nav a[href^='/']").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    paths = list(dict.fromkeys(["/account", *(link for link in links if not link.startswith("/auth/"))]))
    saved = []
    for path in paths:
        response = page.goto(f"{base}{path}")
        if response is None or response.status != 200:
            raise SystemExit(f"{path} answered {who} with HTTP {response.status if response else 'nothing'}")
        target = SCREENSHOTS / f"{who}-{slug(path)}.png"
        page.screenshot(path=str(target), full_page=True)
        saved.append(target)
        console.print(f"  {who:<9} {path:<20} {page.title()!r:<34} -> {target.name}", highlight=False)
    return saved


def upload_and_download(page: Page, base: str, who: str) -> None:
    """The end user uploads a 20 MiB file from the file browser (multipart: three parts through signed URLs,
    straight to the store) and downloads it back through a signed GET; the bytes must be the same."""
    body = os.urandom(20 * 1024 * 1024)
    page.goto(f"{base}/files")
    upload: FilePayload = {"name": "upload.bin", "mimeType": "application/octet-stream", "buffer": body}
    page.set_input_files("#upload-file", files=upload)
    page.click("#upload-button")
    page.wait_for_selector("#files-notice", timeout=120_000)
    target = SCREENSHOTS / f"{who}-files-uploaded.png"
    page.screenshot(path=str(target), full_page=True)
    downloaded = page.context.request.get(f"{base}/files/download?grant=default&key=upload.bin")
    same = hashlib.sha256(downloaded.body()).digest() == hashlib.sha256(body).digest()
    console.print(
        f"  {who:<9} uploaded 20 MiB from the browser in 8 MiB parts: {page.inner_text('#files-notice')!r}; "
        f"downloaded back: HTTP {downloaded.status}, identical: {same} -> {target.name}",
        highlight=False,
    )
    if not same:
        raise SystemExit("the file downloaded from the console differs from the one uploaded")


def run_console_demo(base: str, env: dict[str, str], tenant: str, provider: LocalProvider) -> None:
    step("C1. The console in headless Chromium: customer IT and an end user open every page they may use")
    run_enclave("users", "add", CUSTOMER_IT, "--tenant", tenant, "--role", "admin", env=env)
    run_enclave("users", "add", END_USER, "--tenant", tenant, "--role", "member", env=env)
    console.print(f"$ enclave users add {CUSTOMER_IT} --tenant {tenant} --role admin   (signs in with SSO)")
    console.print(f"$ enclave users add {END_USER} --tenant {tenant} --role member  (may upload)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for who, email in (("it-admin", CUSTOMER_IT), ("end-user", END_USER)):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            try:
                page = sign_in(context, base, email)
                console.print(f"{email} signed in through {provider.issuer}")
                screenshot_navigation(page, base, who)
                if who == "end-user":
                    upload_and_download(page, base, who)
            finally:
                context.close()
    console.print(f"open the console yourself: {base}/account (sign in with any @acme.test login at the provider)")
