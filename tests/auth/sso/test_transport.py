"""Plain-http identity providers exist only on a development machine: a gateway talks to a provider at a
loopback http:// URL only when ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS says so (off by default), whether
the URL is configured (issuer, authority, GitHub API) or named by a provider's discovery document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audit.events import SYSTEM_ACTOR
from auth.sso.clients import ProviderClients
from auth.sso.config import ProviderConfig
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError, SsoConfigError
from auth.sso.providers import OidcProvider
from auth.sso.registry import add_provider
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Settings
from tests.auth.sso.helpers import REDIRECT_URI, TENANT, audit_rows, oidc_config, opened, service

LOOPBACK = "http://127.0.0.1:8080/realms/acme"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data", sso_allow_insecure_loopback_issuers=False) as rt:
        yield rt


def test_the_setting_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS", raising=False)
    assert Settings().sso_allow_insecure_loopback_issuers is False
    monkeypatch.setenv("ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS", "true")
    assert Settings().sso_allow_insecure_loopback_issuers is True


@pytest.mark.parametrize(
    "config",
    [
        {"name": "corp", "kind": "oidc", "issuer": LOOPBACK, "client_id": "x"},
        {"name": "kc", "kind": "keycloak", "issuer": "http://localhost/realms/a", "client_id": "x"},
        {"name": "gh", "kind": "github", "client_id": "x", "client_secret": "s", "options": {"api_url": "http://127.0.0.1"}},
    ],
)  # fmt: skip
def test_a_plain_http_provider_is_refused_unless_allowed(runtime: Runtime, config: dict[str, object]) -> None:
    parsed = ProviderConfig.model_validate(config)
    with transaction(runtime.sessions) as session, pytest.raises(SsoConfigError, match="uses plain HTTP"):
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, parsed)
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, parsed, allow_insecure_loopback=True)


def test_a_plain_http_provider_already_configured_is_not_used(runtime: Runtime) -> None:
    """Configured on a development gateway, then served by one without the setting: sign-in is refused."""
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, oidc_config(LOOPBACK), allow_insecure_loopback=True)
    with pytest.raises(LoginRefusedError) as refused:
        service(runtime).begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    assert refused.value.reason == "insecure_provider"
    assert json.loads(audit_rows(runtime, "auth.login.failed")[0][1])["reason"] == "insecure_provider"


def _discovery(endpoint_base: str) -> httpx.Client:
    issuer = "https://idp.acme.test"
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{endpoint_base}/authorize",
        "token_endpoint": f"{endpoint_base}/token",
        "jwks_uri": f"{endpoint_base}/jwks",
    }
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=document)))


@pytest.mark.parametrize("allowed", [False, True])
def test_a_discovery_document_cannot_point_at_plain_http_endpoints(allowed: bool) -> None:
    """An https provider whose discovery names loopback http endpoints would make the gateway call its own
    host's services in the clear."""
    config = oidc_config("https://idp.acme.test")
    provider = OidcProvider("p1", config, _discovery("http://127.0.0.1:9000"), allow_insecure_loopback=allowed)
    if allowed:
        assert provider.endpoints().token == "http://127.0.0.1:9000/token"
        return
    with pytest.raises(ProviderUnavailableError) as refused:
        provider.endpoints()
    assert "authorization_endpoint http://127.0.0.1:9000/authorize uses plain HTTP" in str(refused.value)


def test_provider_clients_follow_the_setting() -> None:
    assert ProviderClients().allow_insecure_loopback is False
