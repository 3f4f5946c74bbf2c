"""The pages are router groups on the gateway's one authenticator chain: a browser without a session is sent
to sign in (not 401), a refused credential on a page is limited and audited like on the API, `/` answers a
browser with a page, and no redirect is ever built from the request's Host header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.sso.helpers import audit_rows
from tests.conftest import make_settings
from tests.enclave.web.helpers import PUBLIC_URL


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = Runtime.open(
        make_settings(
            f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data", public_url=PUBLIC_URL, auth_failures_per_client=3
        )
    )
    with TestClient(create_app(Services.build(runtime)), base_url=PUBLIC_URL) as test_client:
        yield runtime, test_client
    runtime.close()


def test_the_root_sends_a_browser_to_its_account_and_from_there_to_sign_in(client: tuple[Runtime, TestClient]) -> None:
    _, browser = client
    root = browser.get("/", follow_redirects=False)
    assert root.status_code == 303 and root.headers["location"] == "/account"
    account = browser.get("/account", follow_redirects=False)
    assert account.status_code == 303 and account.headers["location"] == "/auth/login?next=/account"
    assert browser.get("/").headers["content-type"].startswith("text/html")  # followed: the sign-in page


def test_a_refused_credential_on_a_page_is_audited_and_limited(client: tuple[Runtime, TestClient]) -> None:
    runtime, browser = client
    bad = {"Authorization": "Bearer enc_0123456789ab_" + "A" * 43}
    for _ in range(3):
        response = browser.get("/account", headers=bad, follow_redirects=False)
        assert response.status_code == 303  # to sign in
    assert len(audit_rows(runtime, "auth.apikey.used.denied")) == 3
    limited = browser.get("/account", headers=bad, follow_redirects=False)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_an_api_key_is_not_a_browser_session(client: tuple[Runtime, TestClient]) -> None:
    from auth.roles import Role
    from tests.enclave.api.helpers import bearer, issue_key

    runtime, browser = client
    response = browser.get("/account", headers=bearer(issue_key(runtime, "acme", Role.ADMIN)), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/auth/login")


@pytest.mark.parametrize("path", ["/api/v1/api-keys/", "/account/", "/auth/login/", "/healthz/"])
def test_no_trailing_slash_redirect_is_built_from_the_host_header(
    client: tuple[Runtime, TestClient], path: str
) -> None:
    _, browser = client
    response = browser.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code in (400, 404)
