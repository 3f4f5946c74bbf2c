"""Inclusion and consistency proofs from the store (`enclave audit prove`, `GET /api/v1/audit/proofs/...`).

Both are made against the tenant's current signed tree head and read O(log n) stored subtrees plus at most a
few hundred record hashes (audit.store.tree), whatever the log's length. Both are read in one snapshot
(REPEATABLE READ on MySQL), so the head and the subtrees agree.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.checkpoints import Checkpoint
from audit.merkle import consistency_proof, inclusion_proof, root
from audit.store.reader import checkpoint_from_row, signed_head
from audit.store.tables import audit_checkpoints, audit_records
from audit.store.tree import StoredTree, TreeDamagedError
from audit.treeproofs import ConsistencyProof, InclusionProof
from tenancy.errors import ConflictError, NotFoundError


class ProofNotFoundError(NotFoundError):
    """No proof can be made for what was asked (no such record, pruned, a size the log never had)."""


class ProofUnavailableError(ConflictError):
    """The log cannot give a proof as it stands: no signed tree head, or a record its tree needs is gone."""


def _snapshot(session: Session) -> None:
    """One snapshot for the head and the subtrees (a session already in a transaction keeps its own; the subtrees
    of a signed size never change, so only a concurrent prune could differ)."""
    if session.get_bind().dialect.name == "mysql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _head(session: Session, tenant: str) -> Checkpoint:
    head = signed_head(session, tenant)
    if head is None:
        raise ProofUnavailableError(f"the audit log of {tenant} has no signed tree head yet")
    return head


def prove_inclusion(session: Session, tenant: str, seq: int) -> InclusionProof:
    """Record `seq` is in the tree the tenant's current signed tree head signs."""
    _snapshot(session)
    head = _head(session, tenant)
    if not 1 <= seq <= head.seq:
        raise ProofNotFoundError(f"the audit log of {tenant} has records 1..{head.seq}; there is no record {seq}")
    r = audit_records.c
    row = session.execute(select(r.hash, r.body).where(r.tenant_id == tenant, r.seq == seq)).one_or_none()
    if row is None:
        raise ProofNotFoundError(f"record {seq} of {tenant} was pruned (records 1..{head.pruned_count} are gone)")
    try:
        path = inclusion_proof(StoredTree(session.connection(), tenant), seq - 1, head.seq)
    except TreeDamagedError as exc:
        raise ProofUnavailableError(str(exc)) from None
    return InclusionProof(tenant, seq, bytes(row.body), row.hash, head, tuple(value.hex() for value in path))


def prove_consistency(session: Session, tenant: str, old_size: int) -> ConsistencyProof:
    """The tenant's current signed tree head extends the tree of its first `old_size` records (from the pruned
    boundary on: pruning keeps only the subtrees that cover the whole pruned prefix)."""
    _snapshot(session)
    head = _head(session, tenant)
    if not 1 <= old_size <= head.seq:
        raise ProofNotFoundError(f"the audit log of {tenant} has {head.seq} records; it never had {old_size}")
    if old_size < head.pruned_count:
        raise ProofNotFoundError(
            f"records 1..{head.pruned_count} of {tenant} were pruned: consistency can be proven from size "
            f"{head.pruned_count} on; for an earlier size, chain the proofs kept in the bucket's synced heads"
        )
    tree = StoredTree(session.connection(), tenant)
    try:
        old_root = root(tree, old_size).hex()
        path = consistency_proof(tree, old_size, head.seq)
    except TreeDamagedError as exc:
        raise ProofUnavailableError(str(exc)) from None
    c = audit_checkpoints.c
    kept = session.execute(
        select(audit_checkpoints).where(c.tenant_id == tenant, c.seq == old_size).order_by(c.kind.desc()).limit(1)
    ).one_or_none()
    old_head = checkpoint_from_row(kept) if kept is not None else (head if old_size == head.seq else None)
    return ConsistencyProof(tenant, old_size, old_root, old_head, head, tuple(value.hex() for value in path))
