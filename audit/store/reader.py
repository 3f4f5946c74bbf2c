"""Reading the log back: filtered pages for the API, and the ordered stream an export is written from."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoints import Checkpoint, InvalidCheckpointError, parse_checkpoint_bytes
from audit.events import Outcome, StoredRecord
from audit.merkle import consistency_proof, decompose
from audit.store.tables import audit_checkpoints, audit_heads, audit_records
from audit.store.tree import StoredTree, TreeDamagedError
from audit.treeproofs import Continuation, TreeStart

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
        root=m["root"],
        time=m["time"],
        key_id=m["key_id"],
        signature=m["signature"],
        pruned_count=m["pruned_count"],
    )


class ChainStartError(RuntimeError):
    """The log cannot be exported as it stands: its oldest records are gone without the anchor pruning leaves
    (deleted by hand), the anchor is forged, or a record its tree needs was deleted."""


def signed_head(session: Session, tenant: str) -> Checkpoint | None:
    """The tenant's current signed tree head as stored in its head row (unchecked; None when there is none)."""
    raw = session.execute(select(audit_heads.c.signed_head).where(audit_heads.c.tenant_id == tenant)).scalar()
    if raw is None:
        return None
    try:
        return parse_checkpoint_bytes(bytes(raw))
    except InvalidCheckpointError:
        return None


@dataclass(frozen=True)
class ExportRange:
    """What an export covers, read in one consistent snapshot: a contiguous run of sequence numbers (a chain
    cannot be exported with holes), the anchor it starts from (if it starts right after pruned records), the
    subtrees the tree before it is made of (if it starts after seq 1), the checkpoints over it, and how its
    last record is bound to a signed tree head: `end` is that head when it is not already among the
    checkpoints, or a consistency proof up to the next signed head when the range stops before one. When the
    export runs to the head, checkpoints past the last record are kept too, so a chain whose tail was cut after
    a checkpoint fails verification instead of passing silently."""

    tenant: str
    first_seq: int
    last_seq: int
    anchor: Checkpoint | None
    checkpoints: tuple[Checkpoint, ...]
    start: TreeStart | None = None
    end: Checkpoint | Continuation | None = None


def export_range(
    sessions: sessionmaker[Session],
    tenant: str,
    since: datetime | None,
    until: datetime | None,
    check: Callable[[Checkpoint, str], None] | None = None,
) -> ExportRange | None:
    """Fix the export's range. Reads in one snapshot of its own (REPEATABLE READ on MySQL; SQLite transactions
    are serialized), so a checkpoint signed concurrently can never look like one past a truncated tail.
    Raises ChainStartError when the range starts where the chain has no predecessor (not at seq 1, not after
    a prune anchor, not after a record still held) or after an anchor that `check` (AuditLog.verify) refuses
    or that is not the one the signed tree head names."""
    with sessions() as session:
        if session.get_bind().dialect.name == "mysql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return _read_range(session, tenant, since, until, check)


def _read_range(
    session: Session,
    tenant: str,
    since: datetime | None,
    until: datetime | None,
    check: Callable[[Checkpoint, str], None] | None,
) -> ExportRange | None:
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
    head = signed_head(session, tenant)
    anchor = _anchor(session, tenant, first, head, check)
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
    tree = StoredTree(session.connection(), tenant)
    try:
        start = None
        if first > 1:
            covering = decompose(0, first - 1)
            subtrees = tree.nodes(covering)
            start = TreeStart(first - 1, tuple(subtrees[node].hex() for node in covering))
        end = _end(session, tree, tenant, last, head, checkpoints)
    except TreeDamagedError as exc:
        raise ChainStartError(str(exc)) from None
    return ExportRange(tenant, first, last, anchor, checkpoints, start, end)


def _anchor(
    session: Session,
    tenant: str,
    first: int,
    head: Checkpoint | None,
    check: Callable[[Checkpoint, str], None] | None,
) -> Checkpoint | None:
    """The prune anchor the range starts after, checked: signed, and the one the signed tree head names."""
    c = audit_checkpoints.c
    row = session.execute(
        select(audit_checkpoints).where(c.tenant_id == tenant, c.kind == "anchor", c.seq == first - 1)
    ).one_or_none()
    if row is None:
        return None
    anchor = checkpoint_from_row(row)
    if check is not None:
        try:
            check(anchor, f"the prune anchor of {tenant} at seq {anchor.seq}")
        except Exception as exc:
            raise ChainStartError(f"{exc}: the anchor is forged (the chain's start was moved by hand)") from None
    if head is not None and head.pruned_count != anchor.seq:
        raise ChainStartError(
            f"the prune anchor of {tenant} at seq {anchor.seq} is forged: the log's signed tree head says its "
            f"chain starts after seq {head.pruned_count}"
        )
    return anchor


def _end(
    session: Session,
    tree: StoredTree,
    tenant: str,
    last: int,
    head: Checkpoint | None,
    checkpoints: tuple[Checkpoint, ...],
) -> Checkpoint | Continuation | None:
    """How record `last` is bound to a signed tree head (None: it already is, by a checkpoint in the range; or
    no signed head covers it, which the verifier reports)."""
    if any(checkpoint.seq == last for checkpoint in checkpoints):
        return None
    c = audit_checkpoints.c
    later = session.execute(
        select(audit_checkpoints)
        .where(c.tenant_id == tenant, c.kind == "checkpoint", c.seq > last)
        .order_by(c.seq)
        .limit(1)
    ).one_or_none()
    signed = checkpoint_from_row(later) if later is not None else None
    if head is not None and head.seq >= last and (signed is None or head.seq < signed.seq):
        signed = head
    if signed is None:
        return None
    if signed.seq == last:
        return signed
    path = tuple(value.hex() for value in consistency_proof(tree, last, signed.seq))
    return Continuation(last, signed, path)


ExportItem = StoredRecord | Checkpoint | TreeStart | Continuation


def export_items(sessions: sessionmaker[Session], span: ExportRange) -> Iterator[ExportItem]:
    """The anchor and the tree start (if any), then records of `span` in seq order, each followed by the
    checkpoints over it, then what binds the last record to a signed tree head (if not a checkpoint already).
    Reads records in pages, each in a short transaction: memory stays flat however long the log."""
    if span.anchor is not None:
        yield span.anchor
    if span.start is not None:
        yield span.start
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
    if span.end is not None:
        yield span.end


def head_seq(session: Session, tenant: str) -> int:
    return session.execute(select(audit_heads.c.seq).where(audit_heads.c.tenant_id == tenant)).scalar() or 0


def tenants_with_unsigned_records(session: Session) -> list[str]:
    """Tenants whose head has moved past their last kept checkpoint (every head is signed; the periodic loop
    keeps the current one as a checkpoint, see AuditLog.checkpoint_if_due)."""
    h = audit_heads.c
    return list(session.scalars(select(h.tenant_id).where(h.seq > h.checkpoint_seq, h.signed_head.is_not(None))))
