"""Appending to the audit log inside the caller's transaction, and signing checkpoints.

`AuditLog.append(session, event)` writes the record in the same transaction as the act it records: if the
record cannot be written, the exception propagates, the transaction rolls back, and the act does not happen.
Appenders lock the tenant's head row (`SELECT ... FOR UPDATE`), which serializes them per tenant across
threads, processes and replicas, so the chain stays linear whoever appends.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, event, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from audit.checkpoints import Checkpoint, CheckpointSignatureError, sign_checkpoint, verify_checkpoint
from audit.events import AuditEvent, ChainedRecord, ChainHead, empty_head, head_after, link, utc_now
from audit.redaction import redact_event
from audit.store.reader import checkpoint_from_row
from audit.store.tables import audit_checkpoints, audit_heads, audit_records

PENDING_KEY = "enclave.audit.pending"
LISTENING_KEY = "enclave.audit.listening"
logger = logging.getLogger(__name__)


class AuditWriteError(RuntimeError):
    """The audit record could not be written, so the act it records was refused."""


class RecordEmitter(Protocol):
    """Receives records after their transaction committed (OpenTelemetry, tests)."""

    def emit(self, records: Sequence[ChainedRecord]) -> None: ...


def record_row(record: ChainedRecord) -> dict[str, Any]:
    event = record.event
    return {
        "tenant_id": record.tenant,
        "seq": record.seq,
        "time": record.time,
        "action": event.action,
        "actor_id": event.actor.id,
        "outcome": event.outcome.value,
        "hash": record.hash,
        "body": record.body,
    }


def checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "tenant_id": checkpoint.tenant,
        "seq": checkpoint.seq,
        "kind": checkpoint.kind,
        "head_hash": checkpoint.head_hash,
        "time": checkpoint.time,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "pruned_count": checkpoint.pruned_count,
    }


class AuditLog:
    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        emitter: RecordEmitter | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.signing_key = signing_key
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = timedelta(seconds=checkpoint_seconds)
        self.emitter = emitter
        self.clock = clock

    # -- appending ---------------------------------------------------------------------------------
    def append(self, session: Session, event: AuditEvent) -> ChainedRecord:
        """Record `event` in the caller's transaction. Raises AuditWriteError (the caller's transaction
        must then roll back) when the record cannot be written."""
        return self.append_many(session, [event])[0]

    def append_many(self, session: Session, events: Sequence[AuditEvent]) -> list[ChainedRecord]:
        """Record several events in one transaction (group commit); per tenant, in the order given."""
        by_tenant: dict[str, list[AuditEvent]] = defaultdict(list)
        for item in events:
            by_tenant[item.tenant].append(redact_event(item))
        linked: dict[str, list[ChainedRecord]] = {}
        try:
            connection = session.connection()
            for tenant in sorted(by_tenant):  # a fixed lock order: no deadlock between two batches
                linked[tenant] = self._append_tenant(connection, tenant, by_tenant[tenant])
        except AuditWriteError:
            raise
        except Exception as exc:
            raise AuditWriteError(f"audit record could not be written ({type(exc).__name__})") from exc
        cursor = {tenant: iter(records) for tenant, records in linked.items()}
        ordered = [next(cursor[item.tenant]) for item in events]
        self._emit_after_commit(session, ordered)
        return ordered

    def _append_tenant(self, connection: Connection, tenant: str, events: list[AuditEvent]) -> list[ChainedRecord]:
        head, checkpoint_seq, checkpoint_at = self._lock_head(connection, tenant)
        now = self._chain_time(connection, head)
        records: list[ChainedRecord] = []
        for item in events:
            record = link(head, item, now)
            records.append(record)
            head = head_after(record)
        connection.execute(insert(audit_records), [record_row(r) for r in records])
        values: dict[str, Any] = {"seq": head.seq, "hash": head.hash}
        if head.seq - checkpoint_seq >= self.checkpoint_every or now - checkpoint_at >= self.checkpoint_interval:
            checkpoint = self._sign(connection, head, now)
            connection.execute(insert(audit_checkpoints), [checkpoint_row(checkpoint)])
            values.update(checkpoint_seq=head.seq, checkpoint_at=now)
        connection.execute(update(audit_heads).where(audit_heads.c.tenant_id == tenant).values(**values))
        return records

    def _chain_time(self, connection: Connection, head: ChainHead) -> datetime:
        """The append time, read under the head lock: never earlier than the last record's, so times only move
        forward along a tenant's chain whatever the clocks of several gateways say."""
        now = self.clock()
        if head.seq == 0:
            return now
        r = audit_records.c
        last = connection.execute(select(r.time).where(r.tenant_id == head.tenant, r.seq == head.seq)).scalar()
        return now if last is None or last <= now else last

    def _lock_head(self, connection: Connection, tenant: str) -> tuple[ChainHead, int, datetime]:
        query = select(audit_heads).where(audit_heads.c.tenant_id == tenant).with_for_update()
        row = connection.execute(query).one_or_none()
        if row is None:
            self._create_head(connection, tenant)
            row = connection.execute(query).one()
        return ChainHead(tenant, row.seq, row.hash), row.checkpoint_seq, row.checkpoint_at

    def _create_head(self, connection: Connection, tenant: str) -> None:
        """Create the tenant's empty head row; a concurrent creator may win, which is fine."""
        genesis = empty_head(tenant)
        values = {
            "tenant_id": tenant,
            "seq": 0,
            "hash": genesis.hash,
            "checkpoint_seq": 0,
            "checkpoint_at": self.clock(),
        }
        if connection.dialect.name == "mysql":
            connection.execute(mysql_insert(audit_heads).prefix_with("IGNORE").values(**values))
        else:
            connection.execute(sqlite_insert(audit_heads).values(**values).on_conflict_do_nothing())

    # -- checkpoints -------------------------------------------------------------------------------
    def _sign(self, connection: Connection, head: ChainHead, now: datetime) -> Checkpoint:
        """A checkpoint over `head` that also commits to where the chain starts (see `chain_start`)."""
        return sign_checkpoint(
            self.signing_key,
            kind="checkpoint",
            tenant=head.tenant,
            seq=head.seq,
            head_hash=head.hash,
            time=now,
            pruned_count=chain_start(connection, self.signing_key.public_key(), head.tenant),
        )

    def checkpoint_if_due(self, session: Session, tenant: str, *, force: bool = False) -> Checkpoint | None:
        """Sign a checkpoint over the tenant's head if records arrived since the last one and it is due by
        time (or `force`). The gateway calls this periodically so quiet tenants still get checkpoints."""
        connection = session.connection()
        head, checkpoint_seq, checkpoint_at = self._lock_head(connection, tenant)
        now = self.clock()
        if head.seq == checkpoint_seq or (not force and now - checkpoint_at < self.checkpoint_interval):
            return None
        checkpoint = self._sign(connection, head, now)
        connection.execute(insert(audit_checkpoints), [checkpoint_row(checkpoint)])
        connection.execute(
            update(audit_heads)
            .where(audit_heads.c.tenant_id == tenant)
            .values(checkpoint_seq=head.seq, checkpoint_at=now)
        )
        return checkpoint

    def head(self, session: Session, tenant: str) -> ChainHead:
        row = session.execute(select(audit_heads).where(audit_heads.c.tenant_id == tenant)).one_or_none()
        return empty_head(tenant) if row is None else ChainHead(tenant, row.seq, row.hash)

    # -- emission ----------------------------------------------------------------------------------
    def _emit_after_commit(self, session: Session, records: list[ChainedRecord]) -> None:
        """Queue records for emission once their transaction commits; a rollback drops them."""
        if self.emitter is None:
            return
        if LISTENING_KEY not in session.info:
            session.info[LISTENING_KEY] = True
            event.listen(session, "after_commit", self._flush_pending)
            event.listen(session, "after_rollback", _drop_pending)
        session.info.setdefault(PENDING_KEY, []).extend(records)

    def _flush_pending(self, session: Session) -> None:
        batch: list[ChainedRecord] = session.info.pop(PENDING_KEY, [])
        if not batch or self.emitter is None:
            return
        try:
            self.emitter.emit(batch)
        except Exception:  # the database is the system of record; a collector outage must not fail the act
            logger.exception("audit emission failed for %d committed records", len(batch))


def chain_start(connection: Connection, public_key: Ed25519PublicKey, tenant: str) -> int:
    """How many records of `tenant` were pruned: the seq of its latest prune anchor, 0 when none. Only an
    anchor whose signature verifies counts, so a row written into the table by hand cannot move the start."""
    c = audit_checkpoints.c
    row = connection.execute(
        select(audit_checkpoints).where(c.tenant_id == tenant, c.kind == "anchor").order_by(c.seq.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return 0
    anchor = checkpoint_from_row(row)
    try:
        verify_checkpoint(anchor, public_key)
    except CheckpointSignatureError as exc:
        raise AuditWriteError(f"the latest prune anchor of {tenant} does not verify: {exc}") from None
    return anchor.seq


def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
