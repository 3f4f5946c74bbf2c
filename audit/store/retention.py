"""Retention: remove old records and leave a signed anchor so that later exports still verify."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select
from sqlalchemy.orm import Session

from audit.checkpoints import Checkpoint, sign_checkpoint
from audit.store.log import AuditLog, checkpoint_row
from audit.store.tables import audit_checkpoints, audit_records


def prune(session: Session, log: AuditLog, tenant: str, before: datetime) -> Checkpoint | None:
    """Delete the tenant's records older than `before` (a contiguous prefix of the chain) and sign an anchor
    over the last one removed. Returns None when nothing is old enough. The caller audits the act in the
    same transaction."""
    r, c = audit_records.c, audit_checkpoints.c
    session.connection()  # begin, taking the write lock on SQLite before reading
    cutoff = session.execute(select(func.max(r.seq)).where(r.tenant_id == tenant, r.time < before)).scalar()
    if cutoff is None:
        return None
    # The prefix ends at the first record that is not old enough (times can interleave slightly).
    newer = session.execute(
        select(func.min(r.seq)).where(r.tenant_id == tenant, r.time >= before, r.seq <= cutoff)
    ).scalar()
    if newer is not None:
        cutoff = newer - 1
        if cutoff <= 0:
            return None
    last_hash = session.execute(select(r.hash).where(r.tenant_id == tenant, r.seq == cutoff)).scalar_one()
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
        time=log.clock(),
        pruned_count=int(previous) + int(removed),
    )
    session.execute(insert(audit_checkpoints), [checkpoint_row(anchor)])
    return anchor
