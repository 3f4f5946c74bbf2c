"""The audit sync as a serving gateway runs it: `Services.background_jobs` syncs every target each
ENCLAVE_AUDIT_SYNC_SECONDS without anyone asking (SQLite and MariaDB, the local store with real bytes); the use
cases check their permissions; the signing key is in the key history from the first start."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.bucket import DirectoryReader, bucket_keys, verify_bucket
from audit.events import Actor, ActorKind
from auth.principal import Principal
from auth.roles import Role
from enclave.runtime import Runtime
from enclave.services import Access, Services
from enclave.services.storage import local_store_dir
from storage_connector.backends import parse_spec
from tenancy.errors import ForbiddenError
from tests.conftest import make_settings

OPERATOR = Actor(ActorKind.OPERATOR, "cli:root")


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    runtime = Runtime.open(make_settings(database_url, tmp_path / "data", audit_sync_seconds=1))
    built = Services.build(runtime)
    try:
        yield built
    finally:
        built.close()


def as_role(role: Role) -> Access:
    principal = Principal(kind=ActorKind.API_KEY, id="k1", tenant="acme", role=role)
    return Access(principal, "acme", principal.actor())


def test_the_background_job_syncs_every_interval(services: Services) -> None:
    operator = Access.operator("acme", OPERATOR)
    services.storage.connect(operator, parse_spec({"backend": "local", "bucket": "data", "prefix": "tenants/acme"}))
    services.audit.sync.enable(operator, "default")

    async def serve_until_synced() -> int:
        async with services.background_jobs():
            for _ in range(100):
                await asyncio.sleep(0.1)
                (status,) = services.audit.sync.status(operator)
                if status.synced_size:
                    return status.synced_size
        return 0

    size = asyncio.run(serve_until_synced())
    assert size > 0, "the background job did not sync within 10 s at a 1 s interval"
    bucket = local_store_dir(services.runtime.settings) / "data" / "tenants" / "acme" / "enclave-audit"
    reader = DirectoryReader(bucket)
    report = verify_bucket(reader, bucket_keys(reader, [services.runtime.signing_key.public_key()]))
    assert report.ok and report.latest is not None and report.latest.seq == size
    synced_keys = sorted(path.name for path in (bucket / "keys").iterdir())
    assert synced_keys == [
        f"0000-{services.runtime.key_id}.json"
    ]  # the key history, entry 0 recorded at the first start, is synced under keys/


def test_sync_and_signing_acts_need_their_permissions(services: Services) -> None:
    auditor, security = as_role(Role.AUDITOR), as_role(Role.SECURITY_ADMIN)
    with pytest.raises(ForbiddenError, match=r"storage\.revoke"):
        services.audit.sync.enable(auditor, "default")
    with pytest.raises(ForbiddenError, match=r"storage\.revoke"):
        services.audit.sync.run_now(auditor, "default")
    assert services.audit.sync.status(auditor) == []
    with pytest.raises(ForbiddenError, match=r"audit\.read"):
        services.audit.proofs.inclusion(as_role(Role.MEMBER), 1)
    with pytest.raises(ForbiddenError, match="platform operator"):
        services.audit.proofs.seal(security)
    assert services.audit.proofs.inclusion(auditor, 1).seq == 1
