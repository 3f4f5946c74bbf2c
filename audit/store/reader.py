"""Reading the log back: filtered pages for the API, and the ordered stream an export is written from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoints import Checkpoint
from audit.events import Outcome, StoredRecord
from audit.store.tables import audit_checkpoints, audit_heads, audit_records

EXPORT_PAGE = 20_000  # rows per page: ~10 MB of bodies; larger pages amortize the per-page round trips


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    actor: str | None = None
    action: str | None = None
    outcome: Outcome | None = None


def _stored(row: Sequence[Any]) -> StoredRecord:
    return StoredRecord(seq=row[0], hash=row[1], body=bytes(row[2]))


def query_events(
    session: Session, tenant: str, where: EventFilter, *, after_seq: int = 0, limit: int = 100
) -> list[StoredRecord]:
    """One page of the tenant's records matching `where`, in chain order, after `after_seq`."""
    r = audit_records.c
    query = select(r.seq, r.hash, r.body).where(r.tenant_id == tenant, r.seq > after_seq)
    if where.since is not None:
        query = query.where(r.time >= where.since)
    if where.until is not None:
        query = query.where(r.time < where.until)
    if where.actor is not None:
        query = query.where(r.actor_id == where.actor)
    if where.action is not None:
        query = query.where(r.action == where.action)
    if where.outcome is not None:
        query = query.where(r.outcome == where.outcome.value)
    return [_stored(row) for row in session.execute(query.order_by(r.seq).limit(limit))]


def checkpoint_from_row(row: Row[tuple[object, ...]]) -> Checkpoint:
    m = row._mapping
    return Checkpoint(
        kind=m["kind"],
        tenant=m["tenant_id"],
        seq=m["seq"],
        head_hash=m["head_hash"],
        time=m["time"],
        key_id=m["key_id"],
        signature=m["signature"],
        pruned_count=m["pruned_count"],
    )


class ChainStartError(RuntimeError):
    """The oldest records of a chain are gone without the anchor pruning leaves: they were deleted by hand."""


@dataclass(frozen=True)
class ExportRange:
    """What an export covers, read in one consistent snapshot: a contiguous run of sequence numbers (a chain
    cannot be exported with holes), the anchor it starts from (if it starts right after pruned records) and
    the checkpoints over it. When the export runs to the head, checkpoints past the last record are kept
    too, so a chain whose tail was cut after a checkpoint fails verification instead of passing silently."""

    tenant: str
    first_seq: int
    last_seq: int
    anchor: Checkpoint | None
    checkpoints: tuple[Checkpoint, ...]


def export_range(
    sessions: sessionmaker[Session], tenant: str, since: datetime | None, until: datetime | None
) -> ExportRange | None:
    """Fix the export's range. Reads in one snapshot of its own (REPEATABLE READ on MySQL; SQLite transactions
    are serialized), so a checkpoint signed concurrently can never look like one past a truncated tail.
    Raises ChainStartError when the range starts where the chain has no predecessor: not at seq 1, not after
    a prune anchor, not after a record still held."""
    with sessions() as session:
        if session.get_bind().dialect.name == "mysql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return _read_range(session, tenant, since, until)


def _read_range(session: Session, tenant: str, since: datetime | None, until: datetime | None) -> ExportRange | None:
    r, c = audit_records.c, audit_checkpoints.c
    first_query = select(func.min(r.seq)).where(r.tenant_id == tenant)
    last_query = select(func.max(r.seq)).where(r.tenant_id == tenant)
    if since is not None:
        first_query = first_query.where(r.time >= since)
    if until is not None:
        last_query = last_query.where(r.time < until)
    first = session.execute(first_query).scalar()
    last = session.execute(last_query).scalar()
    if first is None or last is None or first > last:
        return None
    anchor = session.execute(
        select(audit_checkpoints).where(c.tenant_id == tenant, c.kind == "anchor", c.seq == first - 1)
    ).one_or_none()
    if first > 1 and anchor is None:
        before = session.execute(select(r.seq).where(r.tenant_id == tenant, r.seq == first - 1)).scalar()
        if before is None:
            raise ChainStartError(
                f"the audit log of {tenant} is damaged: its records start at seq {first}, but records "
                f"1..{first - 1} are neither present nor covered by a signed prune anchor (deleted outside "
                "retention)"
            )
    checkpoint_query = select(audit_checkpoints).where(c.tenant_id == tenant, c.kind == "checkpoint", c.seq >= first)
    if until is not None:
        checkpoint_query = checkpoint_query.where(c.seq <= last)
    checkpoints = tuple(checkpoint_from_row(row) for row in session.execute(checkpoint_query.order_by(c.seq)))
    return ExportRange(tenant, first, last, checkpoint_from_row(anchor) if anchor else None, checkpoints)


def export_items(sessions: sessionmaker[Session], span: ExportRange) -> Iterator[StoredRecord | Checkpoint]:
    """The anchor (if any), then records of `span` in seq order, each followed by the checkpoints over it.
    Reads records in pages, each in a short transaction: memory stays flat however long the log."""
    if span.anchor is not None:
        yield span.anchor
    pending = iter(span.checkpoints)
    next_checkpoint = next(pending, None)
    r = audit_records.c
    after = span.first_seq - 1
    while after < span.last_seq:
        with sessions() as session:
            rows = session.execute(
                select(r.seq, r.hash, r.body)
                .where(r.tenant_id == span.tenant, r.seq > after, r.seq <= span.last_seq)
                .order_by(r.seq)
                .limit(EXPORT_PAGE)
            ).all()
        if not rows:
            break
        for row in rows:
            record = _stored(row)
            yield record
            while next_checkpoint is not None and next_checkpoint.seq <= record.seq:
                yield next_checkpoint
                next_checkpoint = next(pending, None)
        after = rows[-1][0]
    while next_checkpoint is not None:  # checkpoints past the last record (to-head exports only)
        yield next_checkpoint
        next_checkpoint = next(pending, None)


def head_seq(session: Session, tenant: str) -> int:
    return session.execute(select(audit_heads.c.seq).where(audit_heads.c.tenant_id == tenant)).scalar() or 0


def tenants_with_unsigned_records(session: Session) -> list[str]:
    """Tenants whose head has moved past their last checkpoint."""
    h = audit_heads.c
    return list(session.scalars(select(h.tenant_id).where(h.seq > h.checkpoint_seq)))
