"""Storage grants: how a tenant's bucket is reached, and whether issuance is allowed. Every change is audited
in the same transaction as the change (no record, no change)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Outcome, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant
from storage_connector.keys import KeyPolicyError, normalize_prefix
from storage_connector.models import StorageGrantRow
from storage_connector.ttl import DEFAULT_TTL, HARD_MAX_TTL, TtlPolicy, TtlPolicyError
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

GRANT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
ROLE_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
AZURE_CONTAINER = re.compile(r"(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*")
AZURE_POLICY = re.compile(r"[A-Za-z0-9_.-]{1,62}")
AZURE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
LOCAL_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{0,61}")
REGION = re.compile(r"[a-z0-9-]{2,64}")
ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?")
MAX_REASON = 500
# A reason: no control characters, and at least one character that is not white space (the same in Python,
# in pydantic's engine and in the ECMA regex of the OpenAPI document, hence no \s or \S).
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
_SPACE = "\\x20\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
REASON_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"


class Backend(StrEnum):
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


class GrantSpec(BaseModel):
    """What `enclave storage connect` and the API accept. Secrets are not part of a grant: the platform's
    own credentials (AWS role, GCS key, Azure key) come from the gateway's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("default", description="names the grant within the tenant")
    backend: Backend
    bucket: str = Field(description="bucket, container, or (local) directory name")
    prefix: str = Field("", description="the tenant's prefix within the bucket; keys are confined to it")
    region: str | None = None
    endpoint: str | None = Field(None, description="an S3-compatible / emulator endpoint (scheme://host:port)")
    role_arn: str | None = Field(None, description="S3: the customer's role the platform assumes")
    external_id: str | None = Field(None, description="S3: the ExternalId the role's trust requires")
    gcs_url_style: Literal["path", "virtual-hosted", "bucket-bound"] = "path"
    azure_account: str | None = None
    azure_auth: Literal["stored-policy", "user-delegation"] = "stored-policy"
    azure_policy_id: str | None = Field(None, description="Azure: the stored access policy SAS URLs are bound to")
    ttl_default_seconds: int = Field(int(DEFAULT_TTL.total_seconds()), ge=1)
    ttl_max_seconds: int = Field(int(HARD_MAX_TTL.total_seconds()), ge=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not GRANT_NAME.fullmatch(value):
            raise ValueError("name: 1-63 lower-case letters, digits and inner hyphens")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            return normalize_prefix(value)
        except KeyPolicyError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _per_backend(self) -> Self:
        try:
            TtlPolicy(timedelta(seconds=self.ttl_default_seconds), timedelta(seconds=self.ttl_max_seconds))
        except TtlPolicyError as exc:
            raise ValueError(str(exc)) from None
        if self.endpoint is not None and not ENDPOINT.fullmatch(self.endpoint):
            raise ValueError("endpoint must be http(s)://host[:port][/path]")
        if self.region is not None and not REGION.fullmatch(self.region):
            raise ValueError("region: lower-case letters, digits and hyphens")
        {
            Backend.S3: self._s3,
            Backend.GCS: self._gcs,
            Backend.AZURE: self._azure,
            Backend.LOCAL: self._local,
        }[self.backend]()
        return self

    def _only(self, backend: Backend, *fields: str) -> None:
        for field in fields:
            if getattr(self, field) is not None:
                raise ValueError(f"{field} is not used by the {backend.value} backend")

    def _s3(self) -> None:
        if not S3_BUCKET.fullmatch(self.bucket) or ".." in self.bucket:
            raise ValueError("bucket is not a valid S3 bucket name")
        if self.region is None:
            raise ValueError("s3 needs region")
        if self.role_arn is None or not ROLE_ARN.fullmatch(self.role_arn):
            raise ValueError("s3 needs role_arn, the customer's role (arn:aws:iam::ACCOUNT:role/NAME)")
        if self.external_id is None or not EXTERNAL_ID.fullmatch(self.external_id):
            raise ValueError("s3 needs external_id (2-1224 characters of [A-Za-z0-9+=,.@:/_-])")
        self._only(Backend.S3, "azure_account", "azure_policy_id")

    def _gcs(self) -> None:
        if not GCS_BUCKET.fullmatch(self.bucket):
            raise ValueError("bucket is not a valid GCS bucket name")
        self._only(Backend.GCS, "role_arn", "external_id", "azure_account", "azure_policy_id")
        if self.gcs_url_style == "bucket-bound" and self.endpoint is None:
            raise ValueError("gcs_url_style bucket-bound needs endpoint (the bucket's bound host name)")

    def _azure(self) -> None:
        if not AZURE_CONTAINER.fullmatch(self.bucket):
            raise ValueError("bucket is not a valid Azure container name")
        if self.azure_account is None or not AZURE_ACCOUNT.fullmatch(self.azure_account):
            raise ValueError("azure needs azure_account (3-24 lower-case letters and digits)")
        if self.azure_auth == "stored-policy" and not (
            self.azure_policy_id and AZURE_POLICY.fullmatch(self.azure_policy_id)
        ):
            raise ValueError(
                "azure stored-policy SAS needs azure_policy_id (1-62 of [A-Za-z0-9_.-]; '-r'/'-w' are appended)"
            )
        if self.azure_auth == "user-delegation" and self.azure_policy_id:
            raise ValueError("azure_policy_id is only for stored-policy SAS")
        self._only(Backend.AZURE, "role_arn", "external_id")

    def _local(self) -> None:
        if not LOCAL_BUCKET.fullmatch(self.bucket):
            raise ValueError("bucket (a directory name) must be lower-case letters, digits and hyphens")
        self._only(Backend.LOCAL, "role_arn", "external_id", "azure_account", "azure_policy_id", "region")

    def options(self) -> dict[str, Any]:
        if self.backend is Backend.GCS:
            return {"url_style": self.gcs_url_style}
        if self.backend is Backend.AZURE:
            return {"account": self.azure_account, "auth": self.azure_auth, "policy_id": self.azure_policy_id}
        return {}


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
    def unsaved(cls, tenant: str, spec: GrantSpec, grant_id: str = "unsaved") -> Grant:
        """A grant that is not (yet) in the database: to probe access before connecting it."""
        now = utc_now()
        return cls(
            id=grant_id,
            tenant=tenant,
            name=spec.name,
            backend=spec.backend,
            bucket=spec.bucket,
            prefix=spec.prefix,
            region=spec.region,
            endpoint=spec.endpoint,
            role_arn=spec.role_arn,
            external_id=spec.external_id,
            options=spec.options(),
            ttl=TtlPolicy(timedelta(seconds=spec.ttl_default_seconds), timedelta(seconds=spec.ttl_max_seconds)),
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


def parse_spec(values: dict[str, Any]) -> GrantSpec:
    try:
        return GrantSpec.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'grant'}: {e['msg']}" for e in exc.errors())
        raise GrantError(problems) from None


def _reason(reason: str | None) -> str:
    text = reason or ""
    if not re.fullmatch(REASON_PATTERN, text):
        raise GrantError("a reason is required (it goes on the audit record): printable, not only white space")
    if len(text) > MAX_REASON:
        raise GrantError(f"reason: at most {MAX_REASON} characters")
    return text


def connect_grant(
    session: Session, audit: AuditLog, actor: Actor, tenant: str, spec: GrantSpec, reason: str | None = None
) -> Grant:
    if session.get(Tenant, tenant) is None:
        raise GrantError(f"no such tenant {tenant!r}")
    now = utc_now()
    row = StorageGrantRow(
        id=secrets.token_hex(8),
        tenant_id=tenant,
        name=spec.name,
        backend=spec.backend.value,
        bucket=spec.bucket,
        prefix=spec.prefix,
        region=spec.region,
        endpoint=spec.endpoint,
        role_arn=spec.role_arn,
        external_id=spec.external_id,
        options=spec.options(),
        ttl_default_seconds=spec.ttl_default_seconds,
        ttl_max_seconds=spec.ttl_max_seconds,
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
            details={**grant.summary(), "external_id_set": spec.external_id is not None},
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
