"""Retention: remove old records and leave a signed anchor so that later exports still verify, and keep the
complete subtrees that covered the removed records so that the tree still proves what remains."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select
from sqlalchemy.orm import Session

from audit.checkpoints import Checkpoint, sign_checkpoint
from audit.merkle import decompose, fold
from audit.store.log import AuditLog, checkpoint_row
from audit.store.tables import audit_checkpoints, audit_records, audit_sync_targets
from audit.store.tree import StoredTree, insert_nodes


def prune(session: Session, log: AuditLog, tenant: str, before: datetime) -> Checkpoint | None:
    """Delete the tenant's records older than `before` (a contiguous prefix of the chain, never the newest record,
    never one a bucket sync target has not copied yet) and sign an anchor over the last one removed; the head's
    signed tree head is signed again with the chain's new start. Returns None when nothing is old enough. The
    caller audits the act in the same transaction."""
    r, c, t = audit_records.c, audit_checkpoints.c, audit_sync_targets.c
    connection = session.connection()
    state = log.lock_head(connection, tenant)  # pruning re-signs the head: serialized with appends
    cutoff = session.execute(select(func.max(r.seq)).where(r.tenant_id == tenant, r.time < before)).scalar()
    if cutoff is None:
        return None
    # The prefix ends at the first record that is not old enough (times can interleave slightly).
    newer = session.execute(
        select(func.min(r.seq)).where(r.tenant_id == tenant, r.time >= before, r.seq <= cutoff)
    ).scalar()
    if newer is not None:
        cutoff = newer - 1
    cutoff = min(cutoff, state.head.seq - 1)  # the newest record always stays: the signed head covers it
    floor = session.execute(select(func.min(t.synced_size)).where(t.tenant_id == tenant)).scalar()
    if floor is not None:  # never what a sync target has not copied into the customer's bucket yet
        cutoff = min(cutoff, floor)
    if cutoff <= state.pruned_count:
        return None
    last_hash = session.execute(select(r.hash).where(r.tenant_id == tenant, r.seq == cutoff)).scalar_one()
    covering = decompose(0, cutoff)  # the compact range of the pruned prefix, read before its records go
    subtrees = StoredTree(connection, tenant).nodes(covering)
    insert_nodes(connection, tenant, [(node, subtrees[node]) for node in covering])
    deletion = session.execute(delete(audit_records).where(r.tenant_id == tenant, r.seq <= cutoff))
    removed = cast(CursorResult[Any], deletion).rowcount
    previous = session.execute(
        select(func.coalesce(func.max(c.pruned_count), 0)).where(c.tenant_id == tenant, c.kind == "anchor")
    ).scalar_one()
    session.execute(delete(audit_checkpoints).where(c.tenant_id == tenant, c.seq <= cutoff))
    anchor = sign_checkpoint(
        log.signing_key,
        kind="anchor",
        tenant=tenant,
        seq=cutoff,
        head_hash=last_hash,
        root=fold([subtrees[node] for node in covering]).hex(),
        time=log.clock(),
        pruned_count=int(previous) + int(removed),
    )
    session.execute(insert(audit_checkpoints), [checkpoint_row(anchor)])
    log.resign_head(session, state, pruned_count=cutoff)
    return anchor
