"""Storage grants and signed URLs as the gateway's callers use them: the storage connector wired to this
runtime (platform credentials from settings, revocation state shared through the cache), with each act's
permission checked here — a refused grant request is on the audit record too."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path

from audit.events import AuditEvent, Outcome
from auth.roles import Permission
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.refusals import RefusalRecorder
from enclave.settings import Settings
from storage_connector.factory import PlatformCredentials, Signers
from storage_connector.grants import Grant, GrantSpec
from storage_connector.revocation import open_grant_states
from storage_connector.service import BatchItem, GrantState, IssuedBatch, StorageService
from tenancy.errors import ForbiddenError

LOCAL_KEY_FILE = "storage-local-key.bin"


def local_signing_key(settings: Settings) -> bytes:
    from storage_connector.local import load_or_create_key

    if settings.storage_local_signing_key is not None:
        try:
            key = base64.b64decode(settings.storage_local_signing_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("ENCLAVE_STORAGE_LOCAL_SIGNING_KEY must be base64") from None
        if len(key) < 32:
            raise ValueError("ENCLAVE_STORAGE_LOCAL_SIGNING_KEY must be at least 32 bytes")
        return key
    return load_or_create_key(Path(settings.data_dir) / LOCAL_KEY_FILE)


def platform_credentials(settings: Settings) -> PlatformCredentials:
    scheme = "https" if settings.tls_cert_file else "http"
    return PlatformCredentials(
        local_key=local_signing_key(settings),
        local_base_url=(
            settings.storage_local_base_url or settings.public_url or f"{scheme}://{settings.host}:{settings.port}"
        ),
        local_max_upload_bytes=settings.storage_local_max_upload_bytes,
        gcs_key_file=settings.storage_gcs_key_file,
        azure_account_key=(
            settings.storage_azure_account_key.get_secret_value() if settings.storage_azure_account_key else None
        ),
    )


def local_store_dir(settings: Settings) -> Path:
    return settings.storage_local_dir or Path(settings.data_dir) / "objects"


def open_storage_service(runtime: Runtime, refusals: RefusalRecorder | None = None) -> StorageService:
    """The connector on this runtime; with `refusals`, its refusal records stay within the tenant's budget."""

    def append(event: AuditEvent) -> None:
        if refusals is not None and event.outcome is Outcome.DENIED:
            refusals.record(event)
        else:
            runtime.appender.append(event)

    return StorageService(
        runtime.sessions,
        runtime.audit,
        append,
        open_grant_states(runtime.sessions, runtime.settings.cache_url),
        Signers(platform_credentials(runtime.settings)),
    )


class Storage:
    """The use cases; `service` is the connector itself (the probe and the local store's route use it)."""

    def __init__(self, service: StorageService) -> None:
        self.service = service

    def _require(self, access: Access, permission: Permission, target: str | None = None) -> None:
        if not access.can(permission):
            reason = f"role {access.principal.role} lacks permission {permission}"
            self.service.deny_grant_request(access.tenant, access.actor, target, reason)
            raise ForbiddenError(reason)

    def issue(
        self, access: Access, grant: str, items: Sequence[BatchItem], ttl_seconds: int | None = None
    ) -> IssuedBatch:
        """Signed URLs for keys under the grant's prefix; each operation's permission is checked (and a
        refusal audited) by the connector, and the batch is audited before the URLs are returned."""
        return self.service.issue(
            access.principal, grant, items, ttl_seconds, actor=access.actor, request_id=access.request_id
        )

    def status(self, access: Access) -> list[GrantState]:
        self._require(access, Permission.STORAGE_REVOKE)
        return self.service.status(access.tenant)

    def connect(self, access: Access, spec: GrantSpec, reason: str | None = None) -> Grant:
        self._require(access, Permission.STORAGE_ADMIN, f"storage-grant:{spec.name}")
        return self.service.connect(access.actor, access.tenant, spec, reason)

    def revoke(self, access: Access, grant: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        """(grants revoked, whether every replica was told at once through the cache)."""
        self._require(access, Permission.STORAGE_REVOKE, f"storage-grant:{(grant or '*')[:64]}")
        return self.service.revoke(access.actor, access.tenant, grant, reason)

    def restore(self, access: Access, grant: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        self._require(access, Permission.STORAGE_REVOKE, f"storage-grant:{(grant or '*')[:64]}")
        return self.service.restore(access.actor, access.tenant, grant, reason)
