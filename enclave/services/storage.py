"""Storage grants and signed URLs as the gateway's callers use them: the storage connector wired to this
runtime (platform credentials from settings, revocation state shared through the cache), with each act's
permission checked here — a refused grant request is on the audit record too."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from audit.events import AuditEvent, Outcome, new_event_id, utc_now
from audit.store.group_commit import AppendReceipt, GroupCommitAppender
from auth.roles import Permission
from enclave.key_files import read_or_create_key_file
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.refusals import RefusalRecorder
from enclave.settings import Settings
from storage_connector.external_ids import ExternalId
from storage_connector.factory import Signers
from storage_connector.grants import Backend, Grant, GrantStatus
from storage_connector.keys import KeyPolicyError, normalize_prefix, object_key
from storage_connector.local import LocalStore
from storage_connector.objects import ObjectInfo, ObjectStoreError, grant_objects
from storage_connector.platform import PlatformCredentials, SignerUnavailableError
from storage_connector.revocation import GrantStates
from storage_connector.service import (
    APPEND_TIMEOUT_SECONDS,
    AuditAppender,
    BatchItem,
    GrantState,
    IssuedBatch,
    Refusal,
    StorageRefusedError,
    StorageService,
)
from storage_connector.signer import Operation, Signer, SigningContext, UrlRequest
from storage_connector.spec import GrantSpecBase
from tenancy.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError, UnavailableError

LOCAL_KEY_FILE = "storage-local-key.bin"


def local_signing_key(settings: Settings) -> bytes:
    if settings.storage_local_signing_key is not None:
        try:
            key = base64.b64decode(settings.storage_local_signing_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("ENCLAVE_STORAGE_LOCAL_SIGNING_KEY must be base64") from None
        if len(key) < 32:
            raise ValueError("ENCLAVE_STORAGE_LOCAL_SIGNING_KEY must be at least 32 bytes")
        return key
    return read_or_create_key_file(Path(settings.data_dir) / LOCAL_KEY_FILE, lambda: secrets.token_bytes(32))


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


@dataclass(frozen=True)
class Listing:
    """One level of a grant's objects, as a file browser shows it (keys relative to the grant's prefix)."""

    grant: Grant
    prefix: str  # "" or a folder ending in '/'
    folders: list[str]  # full relative paths of the folders directly under `prefix`, each ending in '/'
    files: list[ObjectInfo]  # the objects directly under `prefix`
    store_origin: str  # where the grant's signed URLs point (scheme://host[:port]): the page may connect there


class Storage:
    """The use cases; `service` is the connector itself (the probe and the local store's route use it)."""

    def __init__(self, service: StorageService, appender: AuditAppender, local_store: LocalStore) -> None:
        self.service = service
        self._appender = appender
        self._local_store = local_store

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

    # -- the end user's file browser -------------------------------------------------------------------------
    def grants(self, access: Access) -> list[GrantState]:
        """The grants a reader may browse (each with its live status); security-admin has no data access."""
        self._require(access, Permission.STORAGE_READ)
        return self.service.status(access.tenant)

    def _active_grant(self, access: Access, grant_ref: str, permission: Permission) -> Grant:
        self._require(access, permission, f"storage-grant:{grant_ref[:64]}")
        found = next((s for s in self.service.status(access.tenant) if grant_ref in (s.grant.name, s.grant.id)), None)
        if found is None:  # also another tenant's grant: only this tenant's are looked at
            raise StorageRefusedError(Refusal.NOT_FOUND, f"no storage grant {grant_ref[:64]!r} in this tenant")
        if found.status is not GrantStatus.ACTIVE:
            raise StorageRefusedError(Refusal.REVOKED, f"grant {found.grant.name} is {found.status.value}")
        return found.grant

    def list_objects(self, access: Access, grant_ref: str, prefix: str = "") -> Listing:
        """The folders and objects directly under `prefix` (a folder of the grant: '' or ending in '/'),
        listed through the grant's own signer, so a grant the customer revoked in its cloud lists nothing."""
        try:
            folder = normalize_prefix(prefix)
        except KeyPolicyError as exc:
            raise InvalidRequestError(f"folder {prefix[:100]!r} refused: {exc}") from None
        grant = self._active_grant(access, grant_ref, Permission.STORAGE_READ)
        try:
            signer = self.service.signers.for_grant(grant)
            objects = grant_objects(grant, signer, self._local_store).list(folder)
        except SignerUnavailableError as exc:
            raise UnavailableError(str(exc)) from None
        except ObjectStoreError as exc:
            if exc.denied:
                raise ForbiddenError(
                    f"the store refused the listing ({exc}); was access revoked in the cloud?"
                ) from None
            raise UnavailableError(str(exc)) from None
        folders: dict[str, None] = {}
        files: list[ObjectInfo] = []
        for info in objects:
            rest = info.key[len(folder) :]
            if "/" in rest:
                folders[folder + rest.split("/", 1)[0] + "/"] = None
            else:
                files.append(info)
        return Listing(grant, folder, list(folders), files, _store_origin(signer, grant))

    def delete_object(self, access: Access, grant_ref: str, key: str) -> None:
        """Delete one object (needs `storage.write`); audited as `storage.object.deleted` before the object goes
        (if the record cannot be written, nothing is deleted). The local store only: the clouds' signers have no
        signed DELETE, and the platform holds no other access to the customer's bucket."""
        grant = self._active_grant(access, grant_ref, Permission.STORAGE_WRITE)
        try:
            name = object_key(grant.prefix, key)
        except KeyPolicyError as exc:
            raise InvalidRequestError(f"key refused: {exc}") from None
        if grant.backend is not Backend.LOCAL:
            raise ConflictError(f"objects on {grant.backend.value} grants cannot be deleted from Enclave yet")
        if self._local_store.open(grant.bucket, name) is None:
            raise NotFoundError("no such object")
        event = AuditEvent(
            tenant=access.tenant,
            actor=access.actor,
            action="storage.object.deleted",
            target=f"storage-grant:{grant.id}",
            request_id=access.request_id,
            details={"grant": grant.id, "key_sha256": hashlib.sha256(name.encode()).hexdigest()},
        )
        self._appender.submit(event).result(APPEND_TIMEOUT_SECONDS)
        self._local_store.delete(grant.bucket, name)


def _store_origin(signer: Signer, grant: Grant) -> str:
    """scheme://host[:port] of the grant's signed URLs: a URL is signed in memory to see where it points and
    then dropped (never issued, so never audited)."""
    now = utc_now()
    context = SigningContext(now + timedelta(minutes=1), now, "enclave-console", new_event_id())
    (url,) = signer.sign([UrlRequest(Operation.GET, grant.prefix + "origin")], context)
    parts = urlsplit(url.url)
    return f"{parts.scheme}://{parts.netloc}"
