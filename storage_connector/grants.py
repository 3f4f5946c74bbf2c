"""Storage grants: how a tenant's bucket is reached, and whether issuance is allowed. Every change is audited
in the same transaction as the change (no record, no change)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Outcome, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant
from storage_connector.models import StorageGrantRow
from storage_connector.ttl import TtlPolicy
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    from storage_connector.spec import GrantSpecBase

MAX_REASON = 500
# A reason: no control characters, and at least one character that is not white space (the same in Python,
# in pydantic's engine and in the ECMA regex of the OpenAPI document, hence no \s or \S).
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
_SPACE = "\\x20\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
REASON_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"


class Backend(StrEnum):
    """The registered backends: storage_connector/backends.py registers one module for each."""

    S3 = "s3"
    GCS = "gcs"
    AZURE = "azure"
    LOCAL = "local"


class GrantStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # revoked in Enclave (CLI / API)
    REVOKED_BY_CUSTOMER = "revoked-by-customer"  # the probe found access gone in the customer's cloud


class GrantError(InvalidRequestError):
    """A grant request that cannot be carried out; the message says why."""


class GrantConflictError(ConflictError, GrantError):
    """The tenant already has a grant of that name."""


class GrantNotFoundError(NotFoundError, GrantError):
    """No such grant in this tenant (a grant of another tenant is not found either)."""


@dataclass(frozen=True)
class Grant:
    """A grant as read from the database (an immutable snapshot)."""

    id: str
    tenant: str
    name: str
    backend: Backend
    bucket: str
    prefix: str
    region: str | None
    endpoint: str | None
    role_arn: str | None
    external_id: str | None
    options: dict[str, Any]
    ttl: TtlPolicy
    status: GrantStatus
    status_reason: str | None
    status_changed_at: datetime
    status_changed_by: str
    created_at: datetime
    probe_status: str | None
    probe_detail: str | None
    probed_at: datetime | None

    @classmethod
    def from_row(cls, row: StorageGrantRow) -> Grant:
        return cls(
            id=row.id,
            tenant=row.tenant_id,
            name=row.name,
            backend=Backend(row.backend),
            bucket=row.bucket,
            prefix=row.prefix,
            region=row.region,
            endpoint=row.endpoint,
            role_arn=row.role_arn,
            external_id=row.external_id,
            options=dict(row.options),
            ttl=TtlPolicy(timedelta(seconds=row.ttl_default_seconds), timedelta(seconds=row.ttl_max_seconds)),
            status=GrantStatus(row.status),
            status_reason=row.status_reason,
            status_changed_at=row.status_changed_at,
            status_changed_by=row.status_changed_by,
            created_at=row.created_at,
            probe_status=row.probe_status,
            probe_detail=row.probe_detail,
            probed_at=row.probed_at,
        )

    @classmethod
    def unsaved(cls, tenant: str, spec: GrantSpecBase, grant_id: str = "unsaved") -> Grant:
        """A grant that is not (yet) in the database: to probe access before connecting it."""
        now = utc_now()
        stored = spec.stored()
        return cls(
            id=grant_id,
            tenant=tenant,
            name=spec.name,
            backend=spec.backend,
            bucket=spec.bucket,
            prefix=spec.prefix,
            region=stored.region,
            endpoint=stored.endpoint,
            role_arn=stored.role_arn,
            external_id=stored.external_id,
            options=stored.options,
            ttl=spec.ttl_policy(),
            status=GrantStatus.ACTIVE,
            status_reason=None,
            status_changed_at=now,
            status_changed_by="",
            created_at=now,
            probe_status=None,
            probe_detail=None,
            probed_at=None,
        )

    def summary(self) -> dict[str, str | None]:
        """Non-secret fields for audit details and listings (the ExternalId is not a secret, but it is
        the customer's to show; only whether one is set is recorded)."""
        return {
            "grant": self.id,
            "name": self.name,
            "backend": self.backend.value,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": self.region,
            "role_arn": self.role_arn,
        }


def _reason(reason: str | None) -> str:
    text = reason or ""
    if not re.fullmatch(REASON_PATTERN, text):
        raise GrantError("a reason is required (it goes on the audit record): printable, not only white space")
    if len(text) > MAX_REASON:
        raise GrantError(f"reason: at most {MAX_REASON} characters")
    return text


def connect_grant(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant: str,
    spec: GrantSpecBase,
    reason: str | None = None,
    *,
    external_id: str | None = None,
) -> Grant:
    """Record the grant (audited in the same transaction). `external_id`: the one Enclave generated for the
    tenant and grant name, for a backend whose trust needs one (the caller resolved it)."""
    if session.get(Tenant, tenant) is None:
        raise GrantError(f"no such tenant {tenant!r}")
    now = utc_now()
    stored = spec.stored()
    ttl = spec.ttl_policy()
    row = StorageGrantRow(
        id=secrets.token_hex(8),
        tenant_id=tenant,
        name=spec.name,
        backend=spec.backend.value,
        bucket=spec.bucket,
        prefix=spec.prefix,
        region=stored.region,
        endpoint=stored.endpoint,
        role_arn=stored.role_arn,
        external_id=external_id or stored.external_id,
        options=stored.options,
        ttl_default_seconds=int(ttl.default.total_seconds()),
        ttl_max_seconds=int(ttl.maximum.total_seconds()),
        status=GrantStatus.ACTIVE.value,
        status_reason=None,
        status_changed_at=now,
        status_changed_by=actor.id,
        created_at=now,
        created_by=actor.id,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise GrantConflictError(f"tenant {tenant!r} already has a grant named {spec.name!r}") from None
    grant = Grant.from_row(row)
    audit.append(
        session,
        AuditEvent(
            tenant=tenant,
            actor=actor,
            action="storage.grant.registered",
            target=f"storage-grant:{grant.id}",
            reason=reason,
            details={**grant.summary(), "external_id_set": grant.external_id is not None},
        ),
    )
    return grant


def list_grants(session: Session, tenant: str) -> list[Grant]:
    rows = session.scalars(
        select(StorageGrantRow).where(StorageGrantRow.tenant_id == tenant).order_by(StorageGrantRow.name)
    )
    return [Grant.from_row(row) for row in rows]


def _row(session: Session, tenant: str, ref: str, *, lock: bool = False) -> StorageGrantRow:
    query = select(StorageGrantRow).where(
        StorageGrantRow.tenant_id == tenant, (StorageGrantRow.id == ref) | (StorageGrantRow.name == ref)
    )
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise GrantNotFoundError(f"tenant {tenant!r} has no storage grant {ref!r}")
    return row


def grant_by_id(session: Session, grant_id: str) -> Grant | None:
    """Any tenant's grant by id: only for a URL whose signature already names it (the local store)."""
    row = session.get(StorageGrantRow, grant_id)
    return None if row is None else Grant.from_row(row)


def get_grant(session: Session, tenant: str, ref: str) -> Grant:
    """A grant of `tenant` by id or name; GrantNotFoundError otherwise (also for another tenant's grant)."""
    return Grant.from_row(_row(session, tenant, ref))


def _change_status(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant: str,
    ref: str | None,
    *,
    to: GrantStatus,
    allowed_from: set[GrantStatus],
    action: str,
    reason: str,
) -> list[Grant]:
    refs = [ref] if ref is not None else [g.id for g in list_grants(session, tenant)]
    if not refs:
        raise GrantNotFoundError(f"tenant {tenant!r} has no storage grants")
    changed: list[Grant] = []
    now = utc_now()
    for each in refs:
        row = _row(session, tenant, each, lock=True)
        if GrantStatus(row.status) not in allowed_from:
            continue
        before = row.status
        row.status, row.status_reason, row.status_changed_at, row.status_changed_by = to.value, reason, now, actor.id
        session.flush()
        grant = Grant.from_row(row)
        audit.append(
            session,
            AuditEvent(
                tenant=tenant,
                actor=actor,
                action=action,
                target=f"storage-grant:{grant.id}",
                reason=reason,
                outcome=Outcome.SUCCESS,
                details={**grant.summary(), "from": before, "to": to.value},
            ),
        )
        changed.append(grant)
    return changed


def revoke_grants(
    session: Session, audit: AuditLog, actor: Actor, tenant: str, ref: str | None, reason: str | None
) -> list[Grant]:
    """Revoke one grant (or all of the tenant's); grants already revoked are left as they are."""
    return _change_status(
        session,
        audit,
        actor,
        tenant,
        ref,
        to=GrantStatus.REVOKED,
        allowed_from={GrantStatus.ACTIVE},
        action="storage.grant.revoked",
        reason=_reason(reason),
    )


def mark_revoked_by_customer(session: Session, audit: AuditLog, actor: Actor, grant: Grant, detail: str) -> list[Grant]:
    return _change_status(
        session,
        audit,
        actor,
        grant.tenant,
        grant.id,
        to=GrantStatus.REVOKED_BY_CUSTOMER,
        allowed_from={GrantStatus.ACTIVE},
        action="storage.grant.revocation.detected",
        reason=detail[:MAX_REASON],
    )


def restore_grants(
    session: Session, audit: AuditLog, actor: Actor, tenant: str, ref: str | None, reason: str | None
) -> list[Grant]:
    """Restore revoked grants (either kind) to active: always an explicit act by a person."""
    return _change_status(
        session,
        audit,
        actor,
        tenant,
        ref,
        to=GrantStatus.ACTIVE,
        allowed_from={GrantStatus.REVOKED, GrantStatus.REVOKED_BY_CUSTOMER},
        action="storage.grant.restored",
        reason=_reason(reason),
    )


def record_probe(session: Session, grant_id: str, status: str, detail: str) -> None:
    row = session.get(StorageGrantRow, grant_id)
    if row is not None:
        row.probe_status, row.probe_detail, row.probed_at = status, detail[:MAX_REASON], utc_now()
