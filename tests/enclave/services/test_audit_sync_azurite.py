"""The gateway's audit sync into an Azure grant on Azurite, through the wiring a serving gateway uses: the grant
as connected (stored access policies, SAS checked by Azurite), the platform's account key from settings, the
use cases for enable, run and verify-bucket; the customer deleting the policies makes the next sync fail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.events import Actor, ActorKind
from enclave.runtime import Runtime
from enclave.services import Access, Services
from storage_connector.backends import parse_spec
from tests.conftest import make_settings

OPERATOR = Actor(ActorKind.OPERATOR, "cli:root")


@pytest.fixture(scope="module")
def azurite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.storage_connector.servers import azurite

    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url


def test_the_gateway_syncs_into_azurite_and_a_revocation_stops_it(
    sqlite_url: str, tmp_path: Path, azurite_url: str
) -> None:
    from azure.storage.blob import AccessPolicy, BlobServiceClient, ContainerSasPermissions

    from tests.storage_connector.servers import azurite_account_key

    service = BlobServiceClient(
        azurite_url, credential={"account_name": "devstoreaccount1", "account_key": azurite_account_key()}
    )
    container = service.create_container(f"audit-{datetime.now(UTC):%H%M%S%f}")
    container.set_container_access_policy(
        {
            "enclave-urls-r": AccessPolicy(permission=ContainerSasPermissions(read=True, list=True)),
            "enclave-urls-w": AccessPolicy(permission=ContainerSasPermissions(create=True, write=True)),
        }
    )
    settings = make_settings(
        sqlite_url, tmp_path / "data", storage_cloud="azure", storage_azure_account_key=azurite_account_key()
    )
    services = Services.build(Runtime.open(settings))
    try:
        operator = Access.operator("acme", OPERATOR)
        spec = {
            "backend": "azure",
            "bucket": container.container_name,
            "prefix": "tenants/acme",
            "azure_account": "devstoreaccount1",
            "endpoint": azurite_url,
            "azure_policy_id": "enclave-urls",
        }
        services.storage.connect(operator, parse_spec(spec))
        services.audit.sync.enable(operator, "default")
        outcome = services.audit.sync.run_now(operator, "default")
        assert outcome.synced and outcome.error is None, outcome.error
        public = [services.runtime.signing_key.public_key()]
        report = services.audit.sync.verify_bucket(operator, "default", public)
        assert report.ok and report.latest is not None and report.latest.seq == outcome.size, report.problems
        names = [blob.name for blob in container.list_blobs(name_starts_with="tenants/acme/enclave-audit/")]
        assert any(name.startswith("tenants/acme/enclave-audit/heads/") for name in names)

        container.set_container_access_policy({})  # customer IT revokes in its own cloud
        failed = services.audit.sync.run_now(operator, "default")
        assert failed.error is not None and "HTTP 403" in failed.error
        (status,) = services.audit.sync.status(operator)
        assert status.state == "failing" and status.failures == 1
    finally:
        services.close()
