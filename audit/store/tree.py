"""A tenant's Merkle tree as the store keeps it: complete subtrees of TILE_LEVEL and above as rows, written
in the same transaction as the records that complete them; anything smaller is recomputed from the records'
hashes (at most 2^TILE_LEVEL of them per subtree). Proofs therefore read O(log n) rows and at most a few
hundred record hashes, however long the log.

After pruning, the records of the pruned prefix are gone but the complete subtrees that cover it (its
compact range, `decompose(0, cutoff)`) are kept as rows of any level: every subtree a proof about the
remaining records needs is either one of them, made of them and remaining records, or above them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from audit.merkle import Node, leaf_hash, node_hash
from audit.store.tables import audit_records, audit_tree_nodes

TILE_LEVEL = 8  # subtrees of 256 records and larger are stored
logger = logging.getLogger(__name__)


class TreeDamagedError(RuntimeError):
    """A subtree cannot be computed: a record it needs is neither in the log nor covered by a kept subtree
    (records deleted outside retention)."""


def node_rows(tenant: str, nodes: Iterable[tuple[Node, bytes]]) -> list[dict[str, Any]]:
    return [{"tenant_id": tenant, "level": node.level, "idx": node.index, "hash": value} for node, value in nodes]


def insert_nodes(connection: Connection, tenant: str, nodes: Sequence[tuple[Node, bytes]]) -> None:
    """Store subtrees; one already stored (a retried prune) is left as it is (a subtree's hash never changes)."""
    if not nodes:
        return
    rows = node_rows(tenant, nodes)
    if connection.dialect.name == "mysql":
        connection.execute(mysql_insert(audit_tree_nodes).prefix_with("IGNORE"), rows)
    else:
        connection.execute(sqlite_insert(audit_tree_nodes).on_conflict_do_nothing(), rows)


class StoredTree:
    """The NodeSource of one tenant's tree in the database (audit.merkle.NodeSource)."""

    def __init__(self, connection: Connection, tenant: str) -> None:
        self.connection = connection
        self.tenant = tenant

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        wanted = set(wanted)
        found = self._stored(wanted)
        for node in wanted - found.keys():
            found[node] = self._rebuild(node, found)
        return {node: found[node] for node in wanted}

    def _rebuild(self, node: Node, found: dict[Node, bytes]) -> bytes:
        """A subtree that is not stored: from the records (small ones, as designed), or from its halves (a
        large one whose row is gone: correct, only slower)."""
        if node.level <= TILE_LEVEL:
            return self._from_records(node)
        logger.warning("the audit tree of %s lacks stored subtree %s; recomputing it", self.tenant, node)
        halves = _halves(node)
        found.update(self._stored(set(halves) - found.keys()))
        for half in halves:
            if half not in found:
                found[half] = self._rebuild(half, found)
        return node_hash(found[halves[0]], found[halves[1]])

    def _stored(self, nodes: set[Node]) -> dict[Node, bytes]:
        if not nodes:
            return {}
        t = audit_tree_nodes.c
        found: dict[Node, bytes] = {}
        ordered = sorted(nodes, key=lambda n: (n.level, n.index))
        for chunk in range(0, len(ordered), 200):
            part = ordered[chunk : chunk + 200]
            condition = or_(*(and_(t.level == node.level, t.idx == node.index) for node in part))
            rows = self.connection.execute(
                select(t.level, t.idx, t.hash).where(t.tenant_id == self.tenant, condition)
            ).all()
            found.update({Node(level, idx): bytes(value) for level, idx, value in rows})
        return found

    def _from_records(self, node: Node) -> bytes:
        """A subtree of at most 2^TILE_LEVEL records, from their hashes and any kept smaller subtrees."""
        r, t = audit_records.c, audit_tree_nodes.c
        rows = self.connection.execute(
            select(r.seq, r.hash).where(r.tenant_id == self.tenant, r.seq > node.start, r.seq <= node.end)
        ).all()
        leaves = {seq - 1: leaf_hash(bytes.fromhex(value)) for seq, value in rows}
        kept: dict[Node, bytes] = {}
        if len(leaves) < node.end - node.start:  # a pruned part: the subtrees kept when it was pruned
            stored = self.connection.execute(
                select(t.level, t.idx, t.hash).where(t.tenant_id == self.tenant, t.level < node.level)
            ).all()
            kept = {
                Node(level, idx): bytes(value)
                for level, idx, value in stored
                if node.start <= idx << level and (idx + 1) << level <= node.end
            }
        return _compute(node, leaves, kept, self.tenant)


def _halves(node: Node) -> tuple[Node, Node]:
    return Node(node.level - 1, node.index * 2), Node(node.level - 1, node.index * 2 + 1)


def _compute(node: Node, leaves: dict[int, bytes], kept: dict[Node, bytes], tenant: str) -> bytes:
    value = kept.get(node)
    if value is not None:
        return value
    if node.level == 0:
        leaf = leaves.get(node.index)
        if leaf is None:
            raise TreeDamagedError(
                f"the audit tree of {tenant} cannot be computed: record {node.index + 1} is neither in the log "
                "nor covered by a subtree kept when pruning (records were deleted outside retention)"
            )
        return leaf
    left, right = _halves(node)
    return node_hash(_compute(left, leaves, kept, tenant), _compute(right, leaves, kept, tenant))
