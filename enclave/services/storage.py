"""Storage grants and signed URLs as the gateway's callers use them: the storage connector wired to this
runtime (platform credentials from settings, revocation state shared through the cache), with each act's
permission checked here — a refused grant request is on the audit record too."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path

from audit.events import AuditEvent, Outcome
from audit.store.group_commit import AppendReceipt, GroupCommitAppender
from auth.roles import Permission
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.refusals import RefusalRecorder
from enclave.settings import Settings
from storage_connector.external_ids import ExternalId
from storage_connector.factory import Signers
from storage_connector.grants import Grant
from storage_connector.platform import PlatformCredentials
from storage_connector.revocation import GrantStates
from storage_connector.service import BatchItem, GrantState, IssuedBatch, StorageService
from storage_connector.spec import GrantSpecBase
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
        aws_identity=settings.storage_platform_identity if settings.storage_cloud == "aws" else None,
    )


def local_store_dir(settings: Settings) -> Path:
    return settings.storage_local_dir or Path(settings.data_dir) / "objects"


class _Recorded:
    """The receipt of a refusal already recorded (or counted) by the refusal budget."""

    def result(self, timeout: float | None = None) -> None:
        return None


class _BudgetedAppender:
    """The gateway's appender, with refusal records kept within the tenant's budget (enclave/services/refusals.py)."""

    def __init__(self, appender: GroupCommitAppender, refusals: RefusalRecorder | None) -> None:
        self._appender = appender
        self._refusals = refusals

    def submit(self, event: AuditEvent) -> AppendReceipt | _Recorded:
        if self._refusals is not None and event.outcome is Outcome.DENIED:
            self._refusals.record(event)
            return _Recorded()
        return self._appender.submit(event)


def open_storage_service(runtime: Runtime, refusals: RefusalRecorder | None = None) -> StorageService:
    """The connector on this runtime: grant status through the gateway's shared cache; with `refusals`, its
    refusal records stay within the tenant's budget."""
    return StorageService(
        runtime.sessions,
        runtime.audit,
        _BudgetedAppender(runtime.appender, refusals),
        GrantStates(runtime.sessions, runtime.cache),
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

    def connect(self, access: Access, spec: GrantSpecBase, reason: str | None = None) -> Grant:
        self._require(access, Permission.STORAGE_ADMIN, f"storage-grant:{spec.name}")
        return self.service.connect(access.actor, access.tenant, spec, reason)

    def external_id(self, access: Access, grant: str = "default") -> ExternalId:
        """The ExternalId the customer's AWS role must require for this tenant's grant `grant`: generated by
        Enclave once (audited) and the same on every later ask; customer IT puts it in the BYOB kit. It grants
        nothing by itself (AWS: not a secret), so `storage.revoke` (security-admin, admin) may read it."""
        self._require(access, Permission.STORAGE_REVOKE, f"storage-grant:{grant[:64]}")
        return self.service.external_id(access.actor, access.tenant, grant)

    def revoke(self, access: Access, grant: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        """(grants revoked, whether every replica was told at once through the cache)."""
        self._require(access, Permission.STORAGE_REVOKE, f"storage-grant:{(grant or '*')[:64]}")
        return self.service.revoke(access.actor, access.tenant, grant, reason)

    def restore(self, access: Access, grant: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        self._require(access, Permission.STORAGE_REVOKE, f"storage-grant:{(grant or '*')[:64]}")
        return self.service.restore(access.actor, access.tenant, grant, reason)
