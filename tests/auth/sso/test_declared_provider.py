"""The provider a tenant stack declares through ENCLAVE_SSO_* becomes the dedicated tenant's `sso` provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auth.sso.registry import list_providers
from enclave.runtime import Runtime
from enclave.services.sso import Sso, declared_provider
from enclave.settings import Settings
from tests.auth.sso.helpers import audit_rows

TID = "9188040d-6c67-4c5b-b112-36a304b66dad"


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", tenant="acme", **values)  # type: ignore[arg-type]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(
        settings(
            tmp_path,
            sso_provider="oidc",
            sso_issuer="https://login.acme.test",
            sso_client_id="gw",
            sso_client_secret="s",
        )
    )
    try:
        yield opened
    finally:
        opened.close()


def test_declared_provider_is_added_once_and_replaced_when_it_changes(runtime: Runtime) -> None:
    Sso(runtime).ensure_declared_provider()
    Sso(runtime).ensure_declared_provider()
    with runtime.sessions() as session:
        (row,) = list_providers(session, "acme")
    assert (row.name, row.kind, row.issuer, row.client_id) == ("sso", "oidc", "https://login.acme.test", "gw")
    assert len(audit_rows(runtime, "sso.provider.added")) == 1
    runtime.settings = runtime.settings.model_copy(update={"sso_client_id": "gw2"})
    Sso(runtime).ensure_declared_provider()
    with runtime.sessions() as session:
        (row,) = list_providers(session, "acme")
    assert row.client_id == "gw2"
    assert len(audit_rows(runtime, "sso.provider.updated")) == 1
    assert not audit_rows(runtime, "sso.provider.removed")  # edited in place: users keep their links


def test_microsoft_declaration_takes_the_tenant_from_the_issuer(tmp_path: Path) -> None:
    config = declared_provider(
        settings(
            tmp_path,
            sso_provider="microsoft",
            sso_issuer=f"https://login.microsoftonline.com/{TID}/v2.0",
            sso_client_id="app",
        )
    )
    assert config is not None
    assert config.options.directory == TID
    assert config.options.allowed_tenant_ids == (TID,)
    with pytest.raises(ValueError, match="tenant id"):
        declared_provider(settings(tmp_path, sso_provider="microsoft", sso_client_id="app"))


def test_no_client_no_provider(tmp_path: Path) -> None:
    assert declared_provider(settings(tmp_path, sso_provider="oidc")) is None
