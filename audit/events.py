"""The audit event model and its chained record form.

An `AuditEvent` is what a caller records; `link` turns it into a `ChainedRecord` that carries its tenant
sequence number, the previous record's hash and its own hash over the canonical encoding of its body.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from audit.actions import action_info
from audit.canonical import JsonValue, canonical_bytes, check_canonical
from tenancy.names import is_tenant_name

RECORD_VERSION = 1
OCCURRED_AT = "occurred_at"  # details key for the act's own time when it differs from the chain's
HASH_HEX_LENGTH = 64
MAX_DETAILS_BYTES = 8192
MAX_FIELD_LENGTH = 512


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api-key"
    OPERATOR = "operator"
    SYSTEM = "system"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    ERROR = "error"


class InvalidEventError(ValueError):
    """An audit event that cannot be recorded as given; the message names the field."""


def _bounded(name: str, value: str | None) -> None:
    if value is not None and len(value) > MAX_FIELD_LENGTH:
        raise InvalidEventError(f"{name} is longer than {MAX_FIELD_LENGTH} characters")


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    email: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidEventError("actor.id is required")
        for name in ("id", "email", "ip", "user_agent"):
            _bounded(f"actor.{name}", getattr(self, name))

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "email": self.email,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Actor:
        return cls(
            kind=ActorKind(data["kind"]),
            id=data["id"],
            email=data.get("email"),
            ip=data.get("ip"),
            user_agent=data.get("user_agent"),
        )


SYSTEM_ACTOR = Actor(ActorKind.SYSTEM, "enclave")


def utc_now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=16)  # a batch chains all its records at one time: format it once
def format_time(moment: datetime) -> str:
    """UTC with microseconds and a Z: the one time format in records (sorts as text)."""
    if moment.tzinfo is None:
        raise InvalidEventError("time must be timezone-aware (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def new_event_id() -> str:
    """A random (version 4) UUID as 32 hex digits: uuid.uuid4().hex without building a UUID object, which
    cost a quarter of an event's validation."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


_VALID_TENANTS: set[str] = set()  # names already checked: events repeat a few tenants


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One security-relevant act. Secrets must already be redacted (see audit.redaction)."""

    tenant: str
    actor: Actor
    action: str
    outcome: Outcome = Outcome.SUCCESS
    target: str | None = None
    reason: str | None = None
    request_id: str | None = None
    trace_id: str | None = None
    details: dict[str, JsonValue] = field(default_factory=dict)
    # None until the event joins the chain: the chain's time is the append time (see `link`). A time given
    # here is when the act itself happened; `link` keeps it in details["occurred_at"] when it differs.
    time: datetime | None = None
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        if self.tenant not in _VALID_TENANTS:
            if not is_tenant_name(self.tenant):
                raise InvalidEventError(f"tenant {self.tenant!r} is not a valid tenant id")
            if len(_VALID_TENANTS) < 10_000:
                _VALID_TENANTS.add(self.tenant)
        action_info(self.action)
        for name in ("target", "reason", "request_id", "trace_id"):
            _bounded(name, getattr(self, name))
        try:
            check_canonical(self.details, "details")
        except ValueError as exc:
            raise InvalidEventError(str(exc)) from None
        if len(canonical_bytes(self.details)) > MAX_DETAILS_BYTES:
            raise InvalidEventError(f"details are larger than {MAX_DETAILS_BYTES} bytes")
        if OCCURRED_AT in self.details:
            raise InvalidEventError(f"details.{OCCURRED_AT} is set by the log; give the act's time as `time`")
        if self.time is not None:
            format_time(self.time)

    def body(self, seq: int, prev_hash: str, at: datetime | None = None) -> dict[str, JsonValue]:
        """The hashed body of this event as record number `seq` following `prev_hash`, chained at `at` (by
        default the event's own time); the event's own time goes in details when it differs from `at`."""
        moment = self.time if at is None else at
        if moment is None:
            raise InvalidEventError("an event gets its time when it joins the chain (see audit.events.link)")
        details = self.details
        if self.time is not None and self.time != moment:
            details = {**details, OCCURRED_AT: format_time(self.time)}
        return {
            "v": RECORD_VERSION,
            "tenant": self.tenant,
            "seq": seq,
            "prev": prev_hash,
            "id": self.id,
            "time": format_time(moment),
            "actor": self.actor.to_json(),
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "details": details,
        }


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a tenant's chain stands: the last sequence number and its hash (0 and genesis when empty)."""

    tenant: str
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainedRecord:
    tenant: str
    seq: int
    prev_hash: str
    hash: str
    body: bytes  # canonical encoding of the body; `hash` is its SHA-256
    event: AuditEvent  # as recorded by the caller (its `time`, if any, is the act's own)
    time: datetime  # the chain's time: when the record was appended


def genesis_hash(tenant: str) -> str:
    """The `prev` of a tenant's first record: binds the chain to its tenant from the start."""
    return hashlib.sha256(b"enclave-audit-genesis\x00" + tenant.encode()).hexdigest()


def empty_head(tenant: str) -> ChainHead:
    return ChainHead(tenant, 0, genesis_hash(tenant))


def record_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def link(head: ChainHead, event: AuditEvent, at: datetime | None = None) -> ChainedRecord:
    """Chain `event` after `head` at time `at` (the append time, taken under the head lock so that times never
    go back along a chain; without it, the event's own time or now). The act's own time, when given and
    different, is kept in details["occurred_at"]. The caller persists the record and advances the head
    atomically."""
    if event.tenant != head.tenant:
        raise InvalidEventError(f"event for tenant {event.tenant!r} cannot join {head.tenant!r}'s chain")
    moment = at if at is not None else event.time if event.time is not None else utc_now()
    seq = head.seq + 1
    body = canonical_bytes(event.body(seq, head.hash, moment))
    return ChainedRecord(event.tenant, seq, head.hash, record_hash(body), body, event, moment)


def link_all(head: ChainHead, events: Sequence[AuditEvent], at: datetime) -> list[ChainedRecord]:
    """`link` for a batch appended at one time `at`: the same records, without a ChainHead per record."""
    tenant, seq, prev = head.tenant, head.seq, head.hash
    sha256 = hashlib.sha256
    records: list[ChainedRecord] = []
    append = records.append
    for event in events:
        if event.tenant != tenant:
            raise InvalidEventError(f"event for tenant {event.tenant!r} cannot join {tenant!r}'s chain")
        seq += 1
        body = canonical_bytes(event.body(seq, prev, at))
        digest = sha256(body).hexdigest()
        append(ChainedRecord(tenant, seq, prev, digest, body, event, at))
        prev = digest
    return records


def head_after(record: ChainedRecord) -> ChainHead:
    return ChainHead(record.tenant, record.seq, record.hash)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the store keeps and exports it: the canonical body bytes are the source of truth."""

    seq: int
    hash: str
    body: bytes
