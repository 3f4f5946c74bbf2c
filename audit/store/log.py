"""Appending to the audit log inside the caller's transaction, with a signed tree head in every commit.

`AuditLog.append(session, event)` writes the record in the same transaction as the act it records: if the
record cannot be written, the exception propagates, the transaction rolls back, and the act does not happen.
Appenders lock the tenant's head row (`SELECT ... FOR UPDATE`), which serializes them per tenant across
threads, processes and replicas, so the chain stays linear whoever appends.

Every append (one event in a caller's transaction, or a group-commit batch) also extends the tenant's Merkle
tree and signs a new tree head over it (one Ed25519 signature per commit) in the same transaction: no record is
ever committed unsigned. Before extending, the head row is checked against its own signed tree head (and
against the highest head this process has seen), so a head rewritten in the database by hand is refused
instead of being signed over.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, event, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from audit.checkpoints import (
    Checkpoint,
    CheckpointSignatureError,
    InvalidCheckpointError,
    checkpoint_bytes,
    parse_checkpoint_bytes,
    sign_checkpoint,
    verify_checkpoint,
)
from audit.events import AuditEvent, ChainedRecord, ChainHead, empty_head, head_after, link_all, utc_now
from audit.merkle import Frontier, leaf_hash
from audit.redaction import redact_event
from audit.signing import key_id
from audit.store.bulk_insert import insert_records
from audit.store.tables import audit_checkpoints, audit_heads, audit_records
from audit.store.tree import TILE_LEVEL, insert_nodes

PENDING_KEY = "enclave.audit.pending"
HEADS_KEY = "enclave.audit.heads"
LISTENING_KEY = "enclave.audit.listening"
logger = logging.getLogger(__name__)


class AuditWriteError(RuntimeError):
    """The audit record could not be written, so the act it records was refused."""


class AuditTamperedError(AuditWriteError):
    """The log in the database is not what the gateway signed: its head, tree or signed tree head was changed,
    or it went back to an earlier state, outside Enclave. Nothing more is signed over it."""


class RecordEmitter(Protocol):
    """Receives records after their transaction committed (OpenTelemetry, tests)."""

    def emit(self, records: Sequence[ChainedRecord]) -> None: ...


def checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "tenant_id": checkpoint.tenant,
        "seq": checkpoint.seq,
        "kind": checkpoint.kind,
        "head_hash": checkpoint.head_hash,
        "root": checkpoint.root,
        "time": checkpoint.time,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "pruned_count": checkpoint.pruned_count,
    }


@dataclass
class HeadState:
    """A tenant's head row, locked and checked: the chain head, its tree and the tree head signed over it."""

    head: ChainHead
    frontier: Frontier
    signed: Checkpoint | None
    checkpoint_seq: int
    checkpoint_at: datetime

    @property
    def pruned_count(self) -> int:
        return 0 if self.signed is None else self.signed.pruned_count


class AuditLog:
    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        emitter: RecordEmitter | None = None,
        clock: Callable[[], datetime] = utc_now,
        previous_keys: Sequence[Ed25519PublicKey] = (),
    ) -> None:
        """`checkpoint_every` / `checkpoint_seconds`: how often a signed tree head is also kept as an
        intermediate checkpoint (every commit signs one). `previous_keys`: public keys that signed earlier
        heads (after a key rotation), accepted when checking a head row."""
        self.signing_key = signing_key
        self.public_key = signing_key.public_key()
        self.key_id = key_id(self.public_key)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = timedelta(seconds=checkpoint_seconds)
        self.emitter = emitter
        self.clock = clock
        self.trusted_keys = {key_id(key): key for key in (self.public_key, *previous_keys)}
        # The newest signed head this process has seen committed per tenant: (size, root, signed bytes). A head
        # row found behind it was rolled back in the database; equal bytes need no second signature check.
        self._seen: dict[str, tuple[int, str, bytes]] = {}

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
                linked[tenant] = self._append_tenant(session, connection, tenant, by_tenant[tenant])
        except AuditWriteError:
            raise
        except Exception as exc:
            raise AuditWriteError(f"audit record could not be written ({type(exc).__name__})") from exc
        cursor = {tenant: iter(records) for tenant, records in linked.items()}
        ordered = [next(cursor[item.tenant]) for item in events]
        self._emit_after_commit(session, ordered)
        return ordered

    def _append_tenant(
        self, session: Session, connection: Connection, tenant: str, events: list[AuditEvent]
    ) -> list[ChainedRecord]:
        state = self.lock_head(connection, tenant)
        now = self._chain_time(connection, state)
        records = link_all(state.head, events, now)
        head = head_after(records[-1])
        kept = state.frontier.extend((leaf_hash(bytes.fromhex(r.hash)) for r in records), keep_level=TILE_LEVEL)
        insert_records(connection, records)
        insert_nodes(connection, tenant, kept)
        self._advance(session, connection, state, head, now)
        return records

    def _advance(
        self, session: Session, connection: Connection, state: HeadState, head: ChainHead, now: datetime
    ) -> Checkpoint:
        """Sign the tree head over `head` and write it to the head row; keep it as a checkpoint when due."""
        signed = self._sign(head, state.frontier, now, state.pruned_count)
        raw = checkpoint_bytes(signed)
        values: dict[str, Any] = {"seq": head.seq, "hash": head.hash, "tree": state.frontier.to_bytes()}
        values["signed_head"] = raw
        if (
            state.checkpoint_seq == 0  # a log's first signed head is always kept
            or head.seq // self.checkpoint_every > state.checkpoint_seq // self.checkpoint_every
            or now - state.checkpoint_at >= self.checkpoint_interval
        ):
            connection.execute(insert(audit_checkpoints), [checkpoint_row(signed)])
            values.update(checkpoint_seq=head.seq, checkpoint_at=now)
        connection.execute(update(audit_heads).where(audit_heads.c.tenant_id == head.tenant).values(**values))
        self._note_after_commit(session, head.tenant, (signed.seq, signed.root, raw))
        return signed

    def _chain_time(self, connection: Connection, state: HeadState) -> datetime:
        """The append time, read under the head lock: never earlier than the last record's (the last signed
        head's time, which is at least that), so times only move forward along a tenant's chain whatever the
        clocks of several gateways say."""
        now = self.clock()
        if state.head.seq == 0:
            return now
        if state.signed is not None:
            last: datetime | None = state.signed.time
        else:
            r = audit_records.c
            last = connection.execute(
                select(r.time).where(r.tenant_id == state.head.tenant, r.seq == state.head.seq)
            ).scalar()
        return now if last is None or last <= now else last

    # -- the head row --------------------------------------------------------------------------------
    def lock_head(self, connection: Connection, tenant: str, *, sealing: bool = False) -> HeadState:
        """Lock the tenant's head row (creating it for a new tenant) and check it: AuditTamperedError when it
        is not what was signed, or has records and no signed tree head (unless `sealing`)."""
        query = select(audit_heads).where(audit_heads.c.tenant_id == tenant).with_for_update()
        row = connection.execute(query).one_or_none()
        if row is None:
            self._create_head(connection, tenant)
            row = connection.execute(query).one()
        return self._checked(tenant, row, sealing)

    def _checked(self, tenant: str, row: Any, sealing: bool) -> HeadState:
        head = ChainHead(tenant, row.seq, row.hash)
        try:
            frontier = Frontier.from_bytes(row.seq, bytes(row.tree))
        except ValueError:
            raise AuditTamperedError(
                f"the audit head of {tenant} is damaged: its Merkle tree does not fit {row.seq} records"
            ) from None
        root = frontier.root().hex()
        signed = self._signed_head(tenant, row.signed_head)
        if signed is None and row.seq > 0 and not sealing:
            raise AuditTamperedError(
                f"the audit log of {tenant} has {row.seq} records but no signed tree head: it was rewritten outside "
                "Enclave, or written before signed tree heads existed (then check an export made before the "
                "upgrade and seal it once: `enclave audit seal`)"
            )
        if signed is not None and (
            signed.tenant != tenant or signed.seq != row.seq or signed.head_hash != row.hash or signed.root != root
        ):
            raise AuditTamperedError(
                f"the audit head of {tenant} (record {row.seq}) is not the one its signed tree head covers "
                f"(record {signed.seq}): the records or the head were changed outside Enclave"
            )
        seen = self._seen.get(tenant)
        if seen is not None and (row.seq < seen[0] or (row.seq == seen[0] and root != seen[1])):
            raise AuditTamperedError(
                f"the audit log of {tenant} went back from {seen[0]} to {row.seq} records (or changed at the same "
                "size) since this gateway signed it: records were deleted or rewritten outside Enclave"
            )
        return HeadState(head, frontier, signed, row.checkpoint_seq, row.checkpoint_at)

    def _signed_head(self, tenant: str, raw: bytes | None) -> Checkpoint | None:
        if raw is None:
            return None
        raw = bytes(raw)
        try:
            signed = parse_checkpoint_bytes(raw)
        except InvalidCheckpointError as exc:
            raise AuditTamperedError(f"the signed tree head of {tenant} is malformed: {exc}") from None
        seen = self._seen.get(tenant)
        if seen is not None and seen[2] == raw:
            return signed  # exactly what this process signed and committed
        self.verify(signed, f"the signed tree head of {tenant}")
        return signed

    def verify(self, checkpoint: Checkpoint, what: str) -> None:
        """AuditTamperedError unless `checkpoint` is signed by this gateway's key or a previous one."""
        key = self.trusted_keys.get(checkpoint.key_id)
        if key is None:
            raise AuditTamperedError(f"{what} is signed by key {checkpoint.key_id}, which is not this gateway's")
        try:
            verify_checkpoint(checkpoint, key)
        except CheckpointSignatureError as exc:
            raise AuditTamperedError(f"{what} does not verify: {exc}") from None

    def _create_head(self, connection: Connection, tenant: str) -> None:
        """Create the tenant's empty head row; a concurrent creator may win, which is fine."""
        genesis = empty_head(tenant)
        values = {
            "tenant_id": tenant,
            "seq": 0,
            "hash": genesis.hash,
            "checkpoint_seq": 0,
            "checkpoint_at": self.clock(),
            "tree": b"",
            "signed_head": None,
        }
        if connection.dialect.name == "mysql":
            connection.execute(mysql_insert(audit_heads).prefix_with("IGNORE").values(**values))
        else:
            connection.execute(sqlite_insert(audit_heads).values(**values).on_conflict_do_nothing())

    # -- signed tree heads ---------------------------------------------------------------------------
    def _sign(self, head: ChainHead, frontier: Frontier, now: datetime, pruned_count: int) -> Checkpoint:
        return sign_checkpoint(
            self.signing_key,
            kind="checkpoint",
            tenant=head.tenant,
            seq=head.seq,
            head_hash=head.hash,
            root=frontier.root().hex(),
            time=now,
            pruned_count=pruned_count,
        )

    def resign_head(self, session: Session, state: HeadState, pruned_count: int) -> Checkpoint:
        """Sign the locked head again with a new chain start (after pruning)."""
        connection = session.connection()
        now = self.clock()
        signed = self._sign(
            state.head, state.frontier, max(now, state.signed.time) if state.signed else now, pruned_count
        )
        raw = checkpoint_bytes(signed)
        connection.execute(
            update(audit_heads).where(audit_heads.c.tenant_id == state.head.tenant).values(signed_head=raw)
        )
        self._note_after_commit(session, state.head.tenant, (signed.seq, signed.root, raw))
        return signed

    def checkpoint_if_due(self, session: Session, tenant: str, *, force: bool = False) -> Checkpoint | None:
        """Keep the tenant's current signed tree head as a checkpoint if records arrived since the last one and
        it is due by time (or `force`), so quiet tenants still get periodic checkpoints."""
        connection = session.connection()
        state = self.lock_head(connection, tenant)
        now = self.clock()
        due = force or now - state.checkpoint_at >= self.checkpoint_interval
        if state.head.seq == state.checkpoint_seq or not due or state.signed is None:
            return None
        connection.execute(insert(audit_checkpoints), [checkpoint_row(state.signed)])
        connection.execute(
            update(audit_heads)
            .where(audit_heads.c.tenant_id == tenant)
            .values(checkpoint_seq=state.head.seq, checkpoint_at=now)
        )
        return state.signed

    def seal(self, session: Session, tenant: str) -> Checkpoint:
        """Sign a tree head over a log that has none: one written before signed tree heads existed. Trust on
        first use: whatever the records are now gets signed, so this is an operator's explicit act after
        checking an export made before the upgrade (the caller audits it). ValueError if already signed."""
        connection = session.connection()
        state = self.lock_head(connection, tenant, sealing=True)
        if state.signed is not None or state.head.seq == 0:
            raise ValueError(f"the audit log of {tenant} already has a signed tree head (or no records)")
        return self._advance(session, connection, replace(state, checkpoint_seq=0), state.head, self.clock())

    def head(self, session: Session, tenant: str) -> ChainHead:
        row = session.execute(select(audit_heads).where(audit_heads.c.tenant_id == tenant)).one_or_none()
        return empty_head(tenant) if row is None else ChainHead(tenant, row.seq, row.hash)

    # -- after commit --------------------------------------------------------------------------------
    def _listen(self, session: Session) -> None:
        if LISTENING_KEY not in session.info:
            session.info[LISTENING_KEY] = True
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", _drop_pending)

    def _note_after_commit(self, session: Session, tenant: str, signed: tuple[int, str, bytes]) -> None:
        self._listen(session)
        session.info.setdefault(HEADS_KEY, {})[tenant] = signed

    def _emit_after_commit(self, session: Session, records: list[ChainedRecord]) -> None:
        """Queue records for emission once their transaction commits; a rollback drops them."""
        if self.emitter is None:
            return
        self._listen(session)
        session.info.setdefault(PENDING_KEY, []).extend(records)

    def _after_commit(self, session: Session) -> None:
        for tenant, signed in session.info.pop(HEADS_KEY, {}).items():
            seen = self._seen.get(tenant)
            if seen is None or signed[0] >= seen[0]:
                self._seen[tenant] = signed
        batch: list[ChainedRecord] = session.info.pop(PENDING_KEY, [])
        if not batch or self.emitter is None:
            return
        try:
            self.emitter.emit(batch)
        except Exception:  # the database is the system of record; a collector outage must not fail the act
            logger.exception("audit emission failed for %d committed records", len(batch))


def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(HEADS_KEY, None)
