"""The end user's file browser through the gateway, signed in with the real node OpenID Provider: listing by
folder, downloads through an audited signed GET, deletion confirmed and CSRF-checked, the page's CSP, and the
refusals (a folder leaving the prefix, an unknown grant, a role without data access, no session)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR
from audit.store.tables import audit_records
from auth.roles import Role
from auth.sso.config import SignInPolicy
from enclave.runtime import Runtime
from enclave.services import Access, Services
from enclave.services.storage import local_store_dir
from storage_connector.backends import parse_spec
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

POLICY = SignInPolicy(allowed_domains=("acme.test",), jit=False)
ORIGIN = {"Origin": PUBLIC_URL}


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
    app = gateway(runtime)
    services = Services.build(runtime)
    operator = Access.operator("acme", SYSTEM_ACTOR)
    for email, role in [
        ("mia@acme.test", Role.MEMBER),
        ("val@acme.test", Role.VIEWER),
        ("sec@acme.test", Role.SECURITY_ADMIN),
    ]:
        services.users.invite(operator, email=email, role=role)
    spec = parse_spec({"backend": "local", "bucket": "data", "prefix": "tenants/acme"})
    services.storage.connect(operator, spec)
    with TestClient(app, base_url=PUBLIC_URL) as test_client:
        yield test_client


def _put(runtime: Runtime, key: str, data: bytes) -> Path:
    path = local_store_dir(runtime.settings) / "data" / "tenants" / "acme" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _actions(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        rows = session.execute(select(audit_records.c.body).order_by(audit_records.c.seq))
        bodies: list[dict[str, Any]] = [r.body if isinstance(r.body, dict) else json.loads(r.body) for r in rows]
    return [body["action"] for body in bodies]


def _signed_in(client: TestClient, email: str) -> None:
    assert sign_in(client, email, "/files").status_code == 303


def test_a_member_browses_folders_and_downloads_through_a_signed_url(runtime: Runtime, client: TestClient) -> None:
    _put(runtime, "report.csv", b"a,b\n1,2\n")
    _put(runtime, "q1/deep/notes.txt", b"deep")
    _signed_in(client, "mia@acme.test")
    page = client.get("/files")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and f"connect-src 'self' {PUBLIC_URL}" in csp and "default-src 'none'" in csp
    assert "report.csv" in page.text and ">q1/</a>" in page.text and "8 Bytes" in page.text
    assert 'src="/assets/files.js"' in page.text and 'id="upload-form"' in page.text
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    assert '<a href="/files" aria-current="page">Files</a>' in page.text  # the console's navigation, here marked
    assert '<a href="/account">Account</a>' in page.text and "/admin/users" not in page.text  # a member's links only
    deep = client.get("/files", params={"grant": "default", "prefix": "q1/deep/"})
    assert "notes.txt" in deep.text and 'aria-current="page">deep<' in deep.text
    assert 'href="/files?grant=default&amp;prefix=q1/"' in deep.text  # the breadcrumb back up

    issued_before = _actions(runtime).count("storage.urls.issued")
    link = client.get(
        "/files/download", params={"grant": "default", "key": "q1/deep/notes.txt"}, follow_redirects=False
    )
    assert link.status_code == 303 and link.headers["location"].startswith(f"{PUBLIC_URL}/objects/")
    assert "signature=" in link.headers["location"]
    assert client.get(link.headers["location"]).content == b"deep"
    assert _actions(runtime).count("storage.urls.issued") == issued_before + 1

    escape = client.get("/files/download", params={"grant": "default", "key": "../globex/x"}, follow_redirects=False)
    assert escape.status_code == 403 and "segment" in escape.text and "storage.urls.denied" in _actions(runtime)
    unknown = client.get("/files/download", params={"grant": "nope", "key": "a"}, follow_redirects=False)
    assert unknown.status_code == 404 and "no storage grant" in unknown.text

    script = client.get("/assets/files.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get("/assets/files.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"prefix": "../globex/"}, 400, "&#39;..&#39; segment"),
        ({"prefix": "q1/../../"}, 400, "&#39;..&#39; segment"),
        ({"prefix": "%2e%2e/"}, 400, "percent-encoded"),
        ({"grant": "nope"}, 404, "no storage grant"),
    ],
)
def test_bad_folders_and_grants_are_refused_on_the_page(
    client: TestClient, params: dict[str, str], status: int, message: str
) -> None:
    _signed_in(client, "mia@acme.test")
    page = client.get("/files", params=params)
    assert page.status_code == status and message in page.text, page.text
    assert 'role="alert"' in page.text


def test_delete_is_confirmed_csrf_checked_and_audited(runtime: Runtime, client: TestClient) -> None:
    path = _put(runtime, "q1/old.csv", b"x")
    _signed_in(client, "mia@acme.test")
    listing = client.get("/files", params={"prefix": "q1/"})
    assert 'href="/files/delete?grant=default&amp;key=q1/old.csv"' in listing.text
    confirm = client.get("/files/delete", params={"grant": "default", "key": "q1/old.csv"})
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    form = {"grant": "default", "key": "q1/old.csv"}
    assert client.post("/files/delete", data=form, headers=ORIGIN).status_code == 403  # no token
    assert path.exists()
    token = csrf_token(confirm.text)
    done = client.post("/files/delete", data={**form, "csrf_token": token}, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/files?grant=default&prefix=q1%2F")
    assert not path.exists() and "storage.object.deleted" in _actions(runtime)
    escape = client.post("/files/delete", data={**form, "key": "../globex/x", "csrf_token": token}, headers=ORIGIN)
    assert escape.status_code == 400 and "key refused" in escape.text


def test_a_viewer_reads_but_neither_uploads_nor_deletes(runtime: Runtime, client: TestClient) -> None:
    path = _put(runtime, "a.txt", b"x")
    _signed_in(client, "val@acme.test")
    page = client.get("/files")
    assert page.status_code == 200 and "a.txt" in page.text
    assert "upload-form" not in page.text and "/files/delete" not in page.text
    token = csrf_token(client.get("/account").text)
    refused = client.post(
        "/files/delete", data={"grant": "default", "key": "a.txt", "csrf_token": token}, headers=ORIGIN
    )
    assert refused.status_code == 403 and "storage.write" in refused.text and path.exists()


def test_security_admin_has_no_data_access_and_strangers_sign_in_first(client: TestClient) -> None:
    anonymous = client.get("/files?prefix=q1/", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/auth/login?next=/files"
    _signed_in(client, "sec@acme.test")
    page = client.get("/files")
    assert page.status_code == 403 and "lacks permission storage.read" in page.text
    download = client.get("/files/download", params={"grant": "default", "key": "a.txt"})
    assert download.status_code == 403
