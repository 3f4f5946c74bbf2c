"""The end user's file browser in a real browser: headless Chromium (Debian's, driven by Playwright) signed in
through node `oidc-provider` against the gateway over HTTPS on loopback, with MariaDB and Redis. A 50 MB file
goes up in multipart signed URLs and comes down byte-identical; a network drop mid-upload is retried, and an
upload that stopped resumes after a reload with only the missing parts; a revoked grant stops an upload with a
clear message, a restored one lets it through; an offboarded user's open session is refused on its next
request; axe-core finds no serious or critical accessibility violation on the pages."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from azure.storage.blob import AccessPolicy, BlobServiceClient, ContainerSasPermissions, CorsRule
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Request, Route, expect, sync_playwright

from audit.events import SYSTEM_ACTOR, ActorKind
from auth.principal import Principal
from auth.roles import Role
from auth.sso.config import SignInPolicy
from enclave.runtime import Runtime
from enclave.services import Access, Services
from enclave.services.storage import local_store_dir
from storage_connector.backends import parse_spec
from storage_connector.local import MULTIPART_DIR
from tests.conftest import fresh_mariadb, make_settings
from tests.enclave.web.helpers import CLIENT_ID, CLIENT_SECRET, DEV_SSO, configure, gateway
from tests.enclave.web.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, provider_login
from tests.storage_connector.servers import azurite, azurite_account_key, moto_server
from tests.support.aws import platform_aws_credentials
from tests.support.oidc.nodeproc import real_provider
from tests.support.tls import self_signed

ACCOUNT_KEY = azurite_account_key()
CONTAINER = "acme-data"
POLICY = "enclave-urls"
BUCKET = "acme-files"
AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
MiB = 1024 * 1024
PART = 8 * MiB  # files.js's part size


@dataclass
class Site:
    base: str
    runtime: Runtime
    services: Services
    admin: Access  # customer IT, as the console and the CLI act
    azure_url: str  # Azurite's account URL
    s3_url: str  # moto's endpoint


def prepare_container(account_url: str, console_origin: str) -> None:
    """What customer IT sets up on its Azure account (the BYOB kit): the container, the stored access policies
    the grant's SAS URLs are bound to (read with list, and write), and CORS for the console's origin."""
    service = BlobServiceClient(
        account_url, credential={"account_name": "devstoreaccount1", "account_key": ACCOUNT_KEY}
    )
    service.set_service_properties(
        cors=[
            CorsRule(
                [console_origin],
                ["GET", "PUT", "OPTIONS"],
                allowed_headers=["*"],
                exposed_headers=["*"],
                max_age_in_seconds=60,
            )
        ]
    )
    service.create_container(CONTAINER).set_container_access_policy(
        {
            f"{POLICY}-r": AccessPolicy(permission=ContainerSasPermissions(read=True, list=True)),
            f"{POLICY}-w": AccessPolicy(permission=ContainerSasPermissions(create=True, write=True)),
        }
    )


def prepare_bucket(endpoint: str, console_origin: str) -> None:
    """The customer's S3 bucket with CORS for the console (moto: it does not check presigned signatures, so
    this proves the request shapes, the XML of multipart and the ETags, not the signatures)."""
    s3 = boto3.client(
        "s3", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    rule = {"AllowedOrigins": [console_origin], "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["*"]}
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [{**rule, "ExposeHeaders": ["ETag"]}]})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("files-browser")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    with (
        fresh_mariadb() as database,
        real_provider(CLIENT_ID, CLIENT_SECRET, [f"{base}/auth/callback"], [f"{base}/auth/signed-out"]) as issuer,
        azurite(directory / "azurite") as account_url,
        moto_server(None) as s3_endpoint,
        platform_aws_credentials(directory),
    ):
        prepare_container(account_url, base)
        prepare_bucket(s3_endpoint, base)
        settings = make_settings(
            database,
            directory / "data",
            public_url=base,
            cache_url="redis://127.0.0.1:6379/5",
            storage_azure_account_key=ACCOUNT_KEY,
            **DEV_SSO,
        )
        runtime = Runtime.open(settings)
        configure(runtime, issuer, SignInPolicy(allowed_domains=("acme.test",)))
        services = Services.build(runtime)
        operator = Access.operator("acme", SYSTEM_ACTOR)
        it = services.users.invite(operator, email="it@acme.test", role=Role.ADMIN)
        for email in ("mia@acme.test", "noor@acme.test", "olaf@acme.test"):
            services.users.invite(operator, email=email, role=Role.MEMBER)
        services.storage.connect(operator, parse_spec({"backend": "local", "bucket": "data", "prefix": "tenants/acme"}))
        azure = {"backend": "azure", "name": "blobs", "bucket": CONTAINER, "prefix": "tenants/acme"}
        azure |= {"azure_account": "devstoreaccount1", "azure_policy_id": POLICY, "endpoint": account_url}
        services.storage.connect(operator, parse_spec(azure))
        services.storage.external_id(operator, "s3files")  # the BYOB kit's trust requires the one Enclave made
        s3 = {"backend": "s3", "name": "s3files", "bucket": BUCKET, "prefix": "tenants/acme", "region": "eu-west-1"}
        s3 |= {"endpoint": s3_endpoint, "role_arn": "arn:aws:iam::123456789012:role/enclave-access"}
        services.storage.connect(operator, parse_spec(s3))
        admin = Access.of(
            Principal(ActorKind.USER, it.id, "acme", Role.ADMIN, email=it.email),
            ip="127.0.0.1",
            user_agent="customer IT",
            request_id=None,
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
                proxy_headers=False,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        try:
            yield Site(base, runtime, services, admin, account_url, s3_endpoint)
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


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "survey-50mb.bin"
    path.write_bytes(os.urandom(50 * MiB))
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def signed_in(browser: Browser, site: Site, email: str, **options: Any) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in as `email`, on /files; CSP violations fail the test."""
    context = browser.new_context(ignore_https_errors=True, **options)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{site.base}/files")
    page.get_by_role("link", name="Sign in with corp").click()
    provider_login(page, email)
    page.wait_for_url(f"{site.base}/files")
    expect(page.get_by_role("heading", name="Files", exact=True)).to_be_visible()
    page.on("close", lambda _: None)
    context.csp_violations = violations  # type: ignore[attr-defined]
    return context, page


def is_part(request_url: str, *numbers: int) -> bool:
    return "/objects/" in request_url and any(
        f"part-number={n}&" in request_url or request_url.endswith(f"part-number={n}") for n in numbers
    )


def download(page: Page, name: str) -> Path:
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("link", name=f"Download {name}").click()
    path = info.value.path()
    assert path is not None
    return Path(path)


def upload(page: Page, path: Path) -> None:
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Upload", exact=True).click()


def test_a_50_mb_file_goes_up_in_parts_and_comes_down_identical(site: Site, browser: Browser, big_file: Path) -> None:
    context, page = signed_in(browser, site, "mia@acme.test")
    parts: list[str] = []
    batches: list[list[str]] = []
    page.on("request", lambda r: parts.append(r.url) if r.method == "PUT" and "part-number=" in r.url else None)
    page.on(
        "request",
        lambda r: (
            batches.append([item["operation"] for item in r.post_data_json["items"]])
            if r.method == "POST" and r.url.endswith("/api/v1/storage/urls")
            else None
        ),
    )
    upload(page, big_file)
    expect(page.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {big_file.name}.", timeout=120_000)
    assert len(parts) == 7  # 50 MiB in parts of 8 MiB, each exactly once
    # One audited batch signs the parts ahead (not one batch, and one audit record, per part).
    assert batches == [["multipart-create"], ["multipart-part"] * 7, ["multipart-complete"]], batches
    expect(page.get_by_role("cell", name=big_file.name, exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=big_file.name)).to_contain_text("50.0 MiB")
    assert sha256(download(page, big_file.name)) == sha256(big_file)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('enclave-upload:'))") == []
    assert context.csp_violations == []  # type: ignore[attr-defined]
    context.close()


def test_an_azure_grant_takes_blocks_and_a_block_list_from_the_browser(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Azurite checks the SAS of every Put Block and the Put Block List, and CORS for the console's origin."""
    source = tmp_path / "scan.tif"
    source.write_bytes(os.urandom(2 * PART + 5 * MiB))  # 3 blocks
    context, page = signed_in(browser, site, "mia@acme.test")
    page.get_by_label("Storage").select_option("blobs")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", name="In the top folder")).to_be_visible()
    blocks: list[str] = []
    page.on("request", lambda r: blocks.append(r.url) if r.method == "PUT" and "comp=block&" in r.url else None)
    upload(page, source)
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {source.name}.", timeout=120_000)
    assert len(blocks) == 3 and all(url.startswith(site.azure_url) for url in blocks)  # straight to the store
    expect(page.get_by_role("row", name=source.name)).to_contain_text("21.0 MiB")  # listed through the grant
    assert sha256(download(page, source.name)) == sha256(source)
    assert context.csp_violations == []  # type: ignore[attr-defined]
    context.close()


def test_access_revoked_in_the_customers_cloud_stops_the_listing(site: Site, browser: Browser) -> None:
    """Customer IT deletes the container's stored access policies in Azure (its own switch, not Enclave's):
    the page lists nothing and says the store refused; re-creating them brings the listing back."""
    service = BlobServiceClient(
        site.azure_url, credential={"account_name": "devstoreaccount1", "account_key": ACCOUNT_KEY}
    )
    container = service.get_container_client(CONTAINER)
    policies = container.get_container_access_policy()["signed_identifiers"]
    context, page = signed_in(browser, site, "mia@acme.test")
    container.set_container_access_policy({})
    try:
        page.goto(f"{site.base}/files?grant=blobs")
        expect(page.get_by_role("alert")).to_contain_text("the store refused the listing")
        expect(page.locator("#upload-form")).to_have_count(0)
    finally:
        container.set_container_access_policy({p.id: p.access_policy for p in policies})
    page.reload()
    expect(page.get_by_role("heading", name="In the top folder")).to_be_visible()
    context.close()


def test_an_s3_grant_takes_a_multipart_upload_from_the_browser(site: Site, browser: Browser, tmp_path: Path) -> None:
    """CreateMultipartUpload, UploadPart (ETags read through CORS), CompleteMultipartUpload with them."""
    source = tmp_path / "drone.mp4"
    source.write_bytes(os.urandom(2 * PART + 1 * MiB))  # 3 parts
    context, page = signed_in(browser, site, "mia@acme.test")
    page.goto(f"{site.base}/files?grant=s3files")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}") if r.url.startswith(site.s3_url) else None)
    upload(page, source)
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {source.name}.", timeout=120_000)
    shapes = [line.split("?")[0].split(" ")[0] + (" uploads" if "?uploads" in line else "") for line in sent]
    assert shapes.count("POST uploads") == 1 and shapes.count("PUT") == 3 and shapes.count("POST") == 1
    expect(page.get_by_role("row", name=source.name)).to_contain_text("17.0 MiB")
    assert sha256(download(page, source.name)) == sha256(source)
    assert context.csp_violations == []  # type: ignore[attr-defined]
    context.close()


def test_an_upload_survives_a_network_drop_and_resumes_after_a_reload(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    source = tmp_path / "field-data.bin"
    source.write_bytes(os.urandom(5 * PART + 3 * MiB))  # 6 parts
    context, page = signed_in(browser, site, "noor@acme.test")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "PUT" and "part-number=" in r.url else None)
    dropped = {"part 2": 0}

    def drop_once(route: Route, request: Request) -> None:  # a blip: the first try of part 2 is lost
        if dropped["part 2"] == 0:
            dropped["part 2"] += 1
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(lambda url: is_part(url, 2), drop_once)
    page.route(lambda url: is_part(url, 4, 5, 6), lambda route: route.abort("internetdisconnected"))  # gone
    upload(page, source)
    alert = page.locator("#upload-error")
    expect(alert).to_contain_text("Choose the same file again to resume", timeout=60_000)
    expect(alert).to_contain_text(f"Upload of {source.name} failed")
    assert dropped["part 2"] == 1
    state = page.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))")
    assert sorted(state["parts"]) == ["1", "2", "3"]  # what is stored is remembered
    assert 0 < int(page.locator("#upload-progress").get_attribute("value") or "0") < 100

    page.unroute_all()
    page.reload()
    sent.clear()
    upload(page, source)
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {source.name}.", timeout=60_000)
    resumed = sorted(int(url.split("part-number=")[1].split("&")[0]) for url in sent)
    assert resumed == [4, 5, 6]  # only the parts that never arrived
    assert sha256(download(page, source.name)) == sha256(source)
    context.close()


def test_an_upload_the_store_forgot_starts_over(site: Site, browser: Browser, tmp_path: Path) -> None:
    """The remembered upload is gone from the store (aborted, expired): the page says to start over, forgets
    it, and the next try uploads the file from the start."""
    source = tmp_path / "log-archive.bin"
    source.write_bytes(os.urandom(2 * PART + MiB))
    context, page = signed_in(browser, site, "noor@acme.test")
    page.route(lambda url: is_part(url, 3), lambda route: route.abort("internetdisconnected"))
    upload(page, source)
    expect(page.locator("#upload-error")).to_contain_text("resume", timeout=60_000)
    state = page.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))")
    shutil.rmtree(local_store_dir(site.runtime.settings) / MULTIPART_DIR / state["uploadId"])  # the store forgot it
    page.unroute_all()
    page.reload()
    upload(page, source)
    alert = page.locator("#upload-error")
    expect(alert).to_contain_text("no such multipart upload for this object", timeout=60_000)
    expect(alert).to_contain_text("Choose the file again to upload it from the start.")
    assert page.evaluate("Object.keys(localStorage).length") == 0
    upload(page, source)
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {source.name}.", timeout=60_000)
    assert sha256(download(page, source.name)) == sha256(source)
    context.close()


def test_revoked_storage_stops_an_upload_with_a_clear_message_until_restored(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    note = tmp_path / "minutes.txt"
    note.write_text("minutes of the meeting\n" * 100)
    context, page = signed_in(browser, site, "olaf@acme.test")  # the end user's own browser
    try:
        site.services.storage.revoke(site.admin, "default", "suspected leak")  # customer IT, elsewhere
        upload(page, note)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(f"Upload of {note.name} failed: Enclave refused: grant default is revoked")
        expect(page.locator("#files-notice")).to_have_count(0)
        page.reload()
        expect(page.get_by_role("alert")).to_contain_text("grant default is revoked")  # the listing stops too
    finally:
        site.services.storage.restore(site.admin, "default", "all clear")
    page.reload()
    upload(page, note)
    expect(page.locator("#files-notice")).to_have_text(f"Uploaded {note.name}.")
    assert download(page, note.name).read_bytes() == note.read_bytes()
    context.close()


def test_an_offboarded_users_open_session_is_refused_on_its_next_request(site: Site, browser: Browser) -> None:
    site.services.users.invite(Access.operator("acme", SYSTEM_ACTOR), email="leaver@acme.test", role=Role.MEMBER)
    context, page = signed_in(browser, site, "leaver@acme.test")
    user = site.services.users.by_email(site.admin, "leaver@acme.test")
    site.services.users.offboard(site.admin, user.id)  # customer IT offboards while the page is open
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.evaluate(
        """async (token) => (await fetch('/api/v1/storage/urls', {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
             body: JSON.stringify({items: [{operation: 'put', key: 'x'}]})})).status""",
        token,
    )
    assert refused == 401
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to acme")).to_be_visible()
    context.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    assert result["passes"], "axe checked nothing"
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_the_file_pages_have_no_serious_accessibility_violations(site: Site, browser: Browser) -> None:
    # axe is injected as a script the page's CSP would refuse: this context bypasses CSP for it alone
    context, page = signed_in(browser, site, "mia@acme.test", bypass_csp=True)
    pages = {
        "listing": "/files",
        "empty folder": "/files?grant=default&prefix=reports/2026/",
        "another grant": "/files?grant=blobs",
        "refusal": "/files?prefix=../x/",
        "delete confirmation": "/files/delete?grant=default&key=survey-50mb.bin",
    }
    for name, path in pages.items():
        page.goto(f"{site.base}{path}")
        assert axe_violations(page) == [], name
    page.goto(f"{site.base}/files")
    page.set_input_files("#upload-file", files=[FilePayload(name="a.txt", mimeType="text/plain", buffer=b"a")])
    assert axe_violations(page) == [], "with a file chosen"
    context.close()
