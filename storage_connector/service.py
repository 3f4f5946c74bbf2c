"""What the API and the CLI call: issue a batch of signed URLs, show status, connect, revoke and restore
grants. Store-independent: the signer is picked by the grant's backend.

Order of issuance, all or nothing: who may (role) -> which grant (in the principal's tenant only) -> every
item valid (keys confined to the prefix, TTL in policy) -> grant active (revocation state known) -> sign
in memory -> audit the batch (one event: count, operations, digest of the keys; never a signature) -> only
then return the URLs. Every refusal after authentication is audited as `storage.urls.denied`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, AuditEvent, Outcome, format_time, new_event_id, utc_now
from audit.store.log import AuditLog
from auth.principal import Principal
from auth.roles import Permission
from storage_connector.backends import registration
from storage_connector.external_ids import ExternalId, external_id_for, resolve_external_id
from storage_connector.factory import Signers
from storage_connector.grants import (
    Grant,
    GrantNotFoundError,
    GrantStatus,
    connect_grant,
    get_grant,
    grant_by_id,
    list_grants,
    restore_grants,
    revoke_grants,
)
from storage_connector.keys import KeyPolicyError, object_key
from storage_connector.platform import SignerUnavailableError
from storage_connector.revocation import GrantStates, RevocationStateUnknownError
from storage_connector.signer import (
    MAX_PART_NUMBER,
    Operation,
    SignedUrl,
    Signer,
    SigningContext,
    UrlRequest,
)
from storage_connector.spec import GrantSpecBase
from storage_connector.ttl import TtlPolicy, TtlPolicyError
from tenancy.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)

MAX_BATCH = 1000
SIGN_SLICE = 100
WHOLE_OBJECT = frozenset({Operation.GET, Operation.PUT, Operation.MULTIPART_CREATE})  # no upload id, no part
UPLOAD_ID = re.compile(r"[\x21-\x7e]{1,1024}")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}(;[\x20-\x7e]{0,120})?")
logger = logging.getLogger(__name__)
LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="storage-grant-state")  # one per process


class Refusal(StrEnum):
    """Why nothing was issued; the API maps each to an HTTP status."""

    INVALID = "invalid-request"  # 400
    FORBIDDEN = "forbidden"  # 403: role
    KEY_REFUSED = "key-refused"  # 403: a key the policy refuses (it could leave the prefix or mislead the store)
    CONFLICT = "grant-policy"  # 409: valid in itself, but not under this grant (its TTL policy, its store)
    NOT_FOUND = "grant-not-found"  # 404: also another tenant's grant
    REVOKED = "grant-revoked"  # 403: revoked in Enclave or by the customer
    UNAVAILABLE = "unavailable"  # 503: revocation state, audit log or the store's credentials


class StorageRefusedError(DomainError):
    """Nothing was issued; `refusal` says why, `index` names the batch item at fault when one is. Raised as
    the subclass whose domain kind gives the HTTP status (tenancy/errors.py)."""

    def __new__(cls, refusal: Refusal, message: str, index: int | None = None) -> StorageRefusedError:
        subclass = _REFUSALS[refusal] if cls is StorageRefusedError else cls
        return super().__new__(subclass)

    def __init__(self, refusal: Refusal, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.index = index


class BatchInvalidError(StorageRefusedError, InvalidRequestError):
    pass


class StorageForbiddenError(StorageRefusedError, ForbiddenError):
    pass


class KeyRefusedError(StorageRefusedError, ForbiddenError):
    pass


class GrantPolicyConflictError(StorageRefusedError, ConflictError):
    pass


class StorageGrantNotFoundError(StorageRefusedError, NotFoundError):
    pass


class GrantRevokedError(StorageRefusedError, ForbiddenError):
    pass


class StorageUnavailableError(StorageRefusedError, UnavailableError):
    pass


_REFUSALS: dict[Refusal, type[StorageRefusedError]] = {
    Refusal.INVALID: BatchInvalidError,
    Refusal.FORBIDDEN: StorageForbiddenError,
    Refusal.KEY_REFUSED: KeyRefusedError,
    Refusal.CONFLICT: GrantPolicyConflictError,
    Refusal.NOT_FOUND: StorageGrantNotFoundError,
    Refusal.REVOKED: GrantRevokedError,
    Refusal.UNAVAILABLE: StorageUnavailableError,
}


class BatchItem(NamedTuple):
    operation: Operation
    key: str
    content_type: str | None = None
    checksum_sha256: str | None = None
    content_md5: str | None = None
    upload_id: str | None = None
    part_number: int | None = None


class IssuedUrl(NamedTuple):
    key: str  # relative to the grant's prefix, as the caller named it (normalised)
    signed: SignedUrl


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: str  # the audit event's id
    grant: Grant
    expires_at: datetime
    urls: list[IssuedUrl]


@dataclass(frozen=True)
class GrantState:
    grant: Grant
    status: GrantStatus  # from the revocation state (Redis or database), as issuance sees it


def keys_digest(object_names: Sequence[str]) -> str:
    """SHA-256 over the full object names of a batch, in order, one per line: lets an auditor check which
    keys a batch covered without the log holding them all."""
    digest = hashlib.sha256()
    for name in object_names:
        digest.update(name.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _base64_of(value: str, size: int, what: str, index: int) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise StorageRefusedError(Refusal.INVALID, f"item {index}: {what} is not base64", index) from None
    if len(raw) != size:
        raise StorageRefusedError(Refusal.INVALID, f"item {index}: {what} must encode {size} bytes", index)
    return value


def _request(prefix: str, index: int, item: BatchItem) -> UrlRequest:
    def bad(message: str) -> StorageRefusedError:
        return StorageRefusedError(Refusal.INVALID, f"item {index}: {message}", index)

    try:
        name = object_key(prefix, item.key)
    except KeyPolicyError as exc:
        raise StorageRefusedError(Refusal.KEY_REFUSED, f"item {index}: {exc}", index) from None
    if (
        item.content_type is None
        and item.checksum_sha256 is None
        and item.content_md5 is None
        and item.upload_id is None
        and item.part_number is None
        and item.operation in WHOLE_OBJECT
    ):
        return UrlRequest(item.operation, name)  # nothing but the key to check (most items of most batches)
    writes = item.operation in (Operation.PUT, Operation.MULTIPART_CREATE)
    if item.content_type is not None and (not writes or not CONTENT_TYPE.fullmatch(item.content_type)):
        raise bad("content_type must be type/subtype and only on put or multipart-create")
    if item.checksum_sha256 is not None:
        if item.operation not in (Operation.PUT, Operation.MULTIPART_PART):
            raise bad("checksum_sha256 is only for put and multipart-part")
        _base64_of(item.checksum_sha256, 32, "checksum_sha256", index)
    if item.content_md5 is not None:
        if item.operation is not Operation.PUT:
            raise bad("content_md5 is only for put")
        _base64_of(item.content_md5, 16, "content_md5", index)
    needs_upload = item.operation in (Operation.MULTIPART_PART, Operation.MULTIPART_COMPLETE, Operation.MULTIPART_ABORT)
    if needs_upload != (item.upload_id is not None):
        raise bad(f"upload_id is {'required' if needs_upload else 'not allowed'} for {item.operation.value}")
    if item.upload_id is not None and not UPLOAD_ID.fullmatch(item.upload_id):
        raise bad("upload_id must be 1-1024 printable ASCII characters without spaces")
    is_part = item.operation is Operation.MULTIPART_PART
    if is_part != (item.part_number is not None):
        raise bad(f"part_number is {'required' if is_part else 'not allowed'} for {item.operation.value}")
    if item.part_number is not None and (
        isinstance(item.part_number, bool) or not 1 <= item.part_number <= MAX_PART_NUMBER
    ):
        raise bad(f"part_number must be between 1 and {MAX_PART_NUMBER}")
    return UrlRequest(
        item.operation,
        name,
        item.content_type,
        item.checksum_sha256,
        item.content_md5,
        item.upload_id,
        item.part_number,
    )


def _requests(prefix: str, items: Sequence[BatchItem]) -> list[UrlRequest]:
    """Every item checked and confined to the prefix, or the first refusal (naming the item)."""
    return [_request(prefix, index, item) for index, item in enumerate(items)]


class AuditReceipt(Protocol):
    def result(self, timeout: float | None = None) -> object:
        """Once the record is durable; raises why it is not (then the act must not happen)."""
        ...


class AuditAppender(Protocol):
    """The gateway's group-commit appender (audit/store/group_commit.py `GroupCommitAppender` fits)."""

    def submit(self, event: AuditEvent) -> AuditReceipt: ...


APPEND_TIMEOUT_SECONDS = 30.0


class StorageService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        appender: AuditAppender,
        states: GrantStates,
        signers: Signers,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._appender = appender
        self.states = states
        self.signers = signers
        self._clock = clock
        self._grants: dict[tuple[str, str], Grant] = {}  # (tenant, ref) -> grant; status is never read from it

    def _append(self, event: AuditEvent) -> None:
        self._appender.submit(event).result(APPEND_TIMEOUT_SECONDS)

    # -- issuing -------------------------------------------------------------------------------------
    def _deny(self, tenant: str, actor: Actor, target: str | None, reason: str, **details: str | int | None) -> None:
        try:
            self._append(
                AuditEvent(
                    tenant=tenant,
                    actor=actor,
                    action="storage.urls.denied",
                    outcome=Outcome.DENIED,
                    target=target,
                    reason=reason[:500],
                    details=dict(details),
                )
            )
        except Exception:  # the refusal stands whether or not it could be recorded
            logger.exception("could not record a storage refusal")

    def _grant(self, tenant: str, ref: str) -> Grant:
        cached = self._grants.get((tenant, ref))
        if cached is not None:
            return cached
        with self._sessions() as session:
            grant = get_grant(session, tenant, ref)
        self._grants[(tenant, ref)] = grant
        return grant

    def issue(
        self,
        principal: Principal,
        grant_ref: str,
        items: Sequence[BatchItem],
        ttl_seconds: int | None = None,
        *,
        actor: Actor | None = None,
        request_id: str | None = None,
    ) -> IssuedBatch:
        actor = actor or principal.actor()
        tenant = principal.tenant
        if tenant is None:
            raise StorageRefusedError(Refusal.FORBIDDEN, "the platform operator does not get signed URLs")
        if not 1 <= len(items) <= MAX_BATCH:
            raise StorageRefusedError(Refusal.INVALID, f"a batch has 1 to {MAX_BATCH} items")
        operations = Counter(item.operation.value for item in items)
        needed = {Permission.STORAGE_WRITE if op != Operation.GET else Permission.STORAGE_READ for op in operations}
        missing = sorted(p.value for p in needed if not principal.can(p))
        if missing:
            reason = f"role {principal.role} lacks {', '.join(missing)}"
            self._deny(tenant, actor, f"storage-grant:{grant_ref[:64]}", reason, count=len(items))
            raise StorageRefusedError(Refusal.FORBIDDEN, reason)
        try:
            grant = self._grant(tenant, grant_ref)
        except GrantNotFoundError as exc:
            self._deny(tenant, actor, f"storage-grant:{grant_ref[:64]}", str(exc), count=len(items))
            raise StorageRefusedError(Refusal.NOT_FOUND, str(exc)) from None
        target = f"storage-grant:{grant.id}"
        # The grant's state is a round trip to Redis (or the database): it is asked now and answers while the
        # items are checked; it is only acted on after them, so the order of refusals stays as documented.
        state = LOOKUPS.submit(self.states.status, grant.id)
        try:
            requests = _requests(grant.prefix, items)
            lifetime = grant.ttl.lifetime(ttl_seconds)
            _check_operations(grant, operations)
        except StorageRefusedError as exc:
            self._deny(tenant, actor, target, exc.message, count=len(items))
            raise
        except TtlPolicyError as exc:
            self._deny(tenant, actor, target, str(exc), count=len(items))
            raise StorageRefusedError(Refusal.CONFLICT, f"{exc} under grant {grant.name}") from None
        try:
            status = state.result()
        except RevocationStateUnknownError as exc:
            raise StorageRefusedError(Refusal.UNAVAILABLE, str(exc)) from None
        if status is not GrantStatus.ACTIVE:
            reason = f"grant {grant.name} is {status.value}"
            self._deny(tenant, actor, target, reason, count=len(items))
            raise StorageRefusedError(Refusal.REVOKED, reason)
        batch_id = new_event_id()
        now = self._clock()
        try:
            signer = self.signers.for_grant(grant)
            expires_at = TtlPolicy.expiry(now, lifetime, signer.credentials_expire_at(now, lifetime))
        except SignerUnavailableError as exc:
            raise StorageRefusedError(Refusal.UNAVAILABLE, str(exc)) from None
        except Exception as exc:  # the customer's identity service or the store refused our credentials
            logger.warning("signing credentials for grant %s failed: %s", grant.id, type(exc).__name__)
            raise StorageRefusedError(
                Refusal.UNAVAILABLE, f"could not obtain signing credentials ({type(exc).__name__})"
            ) from None
        if (expires_at - now).total_seconds() < 1:
            raise StorageRefusedError(Refusal.UNAVAILABLE, "the store's credentials are about to expire")
        event = AuditEvent(
            tenant=tenant,
            actor=actor,
            action="storage.urls.issued",
            target=target,
            request_id=request_id,
            details={
                "grant": grant.id,
                "count": len(items),
                "operations": dict(sorted(operations.items())),
                "keys_sha256": keys_digest([r.object_name for r in requests]),
                "expires_at": format_time(expires_at),
                "ttl_seconds": int((expires_at - now).total_seconds()),
            },
            time=now,
            id=batch_id,
        )
        # Every check that can refuse has passed and the credentials are in hand, so the record is submitted
        # now and the URLs are signed (in memory) while it commits; none is returned before it is durable.
        receipt = self._appender.submit(event)
        try:
            signed = _sign_yielding(
                signer, requests, SigningContext(expires_at, now, _principal_label(principal), batch_id)
            )
        except Exception as exc:
            logger.error("batch %s was recorded but signing failed (%s); nothing issued", batch_id, type(exc).__name__)
            raise StorageRefusedError(Refusal.UNAVAILABLE, f"signing failed ({type(exc).__name__})") from None
        finally:
            durable = _settle(receipt)
        if durable is not None:
            raise StorageRefusedError(
                Refusal.UNAVAILABLE, f"the audit log cannot be written, so no URL was issued ({durable})"
            )
        cut = len(grant.prefix)
        urls = [IssuedUrl(url.object_name[cut:], url) for url in signed]
        return IssuedBatch(batch_id, grant, expires_at, urls)

    # -- grants ----------------------------------------------------------------------------------------
    def grant_by_id(self, grant_id: str) -> Grant | None:
        """Any tenant's grant: only for a URL whose verified signature names it (the local store)."""
        with self._sessions() as session:
            return grant_by_id(session, grant_id)

    def status(self, tenant: str) -> list[GrantState]:
        with self._sessions() as session:
            grants = list_grants(session, tenant)
        states: list[GrantState] = []
        for grant in grants:
            try:
                status = self.states.status(grant.id)
            except RevocationStateUnknownError:
                status = grant.status
            states.append(GrantState(grant, status))
        return states

    def connect(self, actor: Actor, tenant: str, spec: GrantSpecBase, reason: str | None = None) -> Grant:
        """Register a grant (audited). Refused when this gateway could never sign for it, and for a backend whose
        trust needs an ExternalId, unless Enclave generated one for the tenant and grant name (`external_id`)."""
        self.signers.check(spec)
        with self._sessions() as session, session.begin():
            external_id = None
            if registration(spec.backend).external_id:
                external_id = resolve_external_id(session, tenant, spec.name, spec.stored().external_id)
            grant = connect_grant(session, self._audit, actor, tenant, spec, reason, external_id=external_id)
        self.states.publish([grant])
        return grant

    def external_id(self, actor: Actor, tenant: str, grant_name: str) -> ExternalId:
        """The ExternalId the customer's role must trust for the tenant's grant `grant_name`: generated on the
        first request (audited as `storage.externalid.generated`), the same on every later one."""
        with self._sessions() as session, session.begin():
            return external_id_for(session, self._audit, actor, tenant, grant_name)

    def deny_grant_request(self, tenant: str, actor: Actor, target: str | None, reason: str) -> None:
        """Record a refused grant change or status request (role, another tenant's grant)."""
        try:
            self._append(
                AuditEvent(
                    tenant=tenant,
                    actor=actor,
                    action="storage.grant.denied",
                    outcome=Outcome.DENIED,
                    target=target,
                    reason=reason[:500],
                )
            )
        except Exception:
            logger.exception("could not record a refused grant request")

    def revoke(self, actor: Actor, tenant: str, grant_ref: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        """(grants revoked, whether every replica was told through Redis)."""
        try:
            with self._sessions() as session, session.begin():
                changed = revoke_grants(session, self._audit, actor, tenant, grant_ref, reason)
        except GrantNotFoundError as exc:
            self.deny_grant_request(tenant, actor, f"storage-grant:{(grant_ref or '*')[:64]}", str(exc))
            raise
        return changed, self.states.publish(changed)

    def restore(self, actor: Actor, tenant: str, grant_ref: str | None, reason: str | None) -> tuple[list[Grant], bool]:
        try:
            with self._sessions() as session, session.begin():
                changed = restore_grants(session, self._audit, actor, tenant, grant_ref, reason)
        except GrantNotFoundError as exc:
            self.deny_grant_request(tenant, actor, f"storage-grant:{(grant_ref or '*')[:64]}", str(exc))
            raise
        return changed, self.states.publish(changed)


def _sign_yielding(signer: Signer, requests: list[UrlRequest], context: SigningContext) -> list[SignedUrl]:
    """Sign in slices, letting other threads run between them: the audit writer needs the interpreter after
    each round trip to the database, and would otherwise wait up to a switch interval (5 ms) each time while
    signing holds it, which would serialise the commit behind the signing it is meant to overlap."""
    signed: list[SignedUrl] = []
    for start in range(0, len(requests), SIGN_SLICE):
        signed += signer.sign(requests[start : start + SIGN_SLICE], context)
        time.sleep(0)  # releases the GIL: a thread waiting for it takes it now
    return signed


def _settle(receipt: AuditReceipt) -> str | None:
    """Wait until the record is durable: None, or why it is not (its error's type; never its message)."""
    try:
        receipt.result(APPEND_TIMEOUT_SECONDS)
    except Exception as exc:
        return type(exc).__name__
    return None


def _check_operations(grant: Grant, operations: Counter[str]) -> None:
    """Every operation has a signed URL on the grant's store (its registration says which do not, and why)."""
    backend = registration(grant.backend)
    for operation in sorted(operations):
        why = backend.refuses(Operation(operation))
        if why is not None:
            raise StorageRefusedError(Refusal.CONFLICT, why)


def _principal_label(principal: Principal) -> str:
    """Who asked, as the store's logs will show it: e-mail for people, the key id for API keys."""
    return principal.email or f"{principal.kind.value}:{principal.id}"
