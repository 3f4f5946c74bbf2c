"""Test helper: signed tree heads and tree starts for chains built in memory (the roots the store computes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoints import Checkpoint, CheckpointKind, sign_checkpoint
from audit.events import StoredRecord
from audit.merkle import LeafList, decompose, leaf_hash, root
from audit.treeproofs import TreeStart


def leaves(records: Sequence[StoredRecord]) -> list[bytes]:
    """The leaf hashes of records 1..n (`records` must start at seq 1)."""
    assert not records or records[0].seq == 1, "a tree is built from the chain's first record"
    return [leaf_hash(bytes.fromhex(record.hash)) for record in records]


def tree_root(records: Sequence[StoredRecord], size: int) -> str:
    return root(LeafList(leaves(records)), size).hex()


def tree_start(records: Sequence[StoredRecord], size: int) -> TreeStart:
    source = LeafList(leaves(records))
    return TreeStart(size, tuple(value.hex() for value in source.nodes(decompose(0, size)).values()))


def signed_head(
    key: Ed25519PrivateKey,
    records: Sequence[StoredRecord],
    seq: int,
    time: datetime,
    *,
    tenant: str = "acme",
    kind: CheckpointKind = "checkpoint",
    pruned_count: int = 0,
) -> Checkpoint:
    """A checkpoint (or anchor) over record `seq` of the chain `records` (from seq 1), with its Merkle root."""
    return sign_checkpoint(
        key,
        kind=kind,
        tenant=tenant,
        seq=seq,
        head_hash=records[seq - 1].hash,
        root=tree_root(records, seq),
        time=time,
        pruned_count=pruned_count,
    )
