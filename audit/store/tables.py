"""Audit tables. The canonical body bytes are the system of record; the other columns index them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
)

from audit.store.types import UtcDateTime

audit_metadata = MetaData(naming_convention={"ix": "ix_%(table_name)s_%(column_0_N_name)s", "pk": "pk_%(table_name)s"})

# One row per event. (tenant_id, seq) is the chain position; body is the hashed canonical encoding.
audit_records = Table(
    "audit_records",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("actor_id", String(512), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("body", LargeBinary(16_777_215), nullable=False),
    Index("ix_audit_records_tenant_time", "tenant_id", "time"),
)

# One row per tenant: where its chain stands, the right edge of its Merkle tree (the packed hashes of the
# complete subtrees that make up records 1..seq, see audit.merkle.Frontier) and the signed tree head over it,
# rewritten by every commit that appends. Appenders lock this row, which serializes them per tenant across
# processes and replicas.
audit_heads = Table(
    "audit_heads",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("checkpoint_seq", BigInteger, nullable=False),
    Column("checkpoint_at", UtcDateTime(), nullable=False),
    Column("tree", LargeBinary(4096), nullable=False),
    Column("signed_head", LargeBinary(4096), nullable=True),  # canonical JSON of the Checkpoint; NULL: none yet
)

# Complete subtrees of each tenant's Merkle tree: (level, idx) covers records idx*2^level+1 .. (idx+1)*2^level.
# Appending keeps those of level >= TILE_LEVEL (one row per 128 records); pruning keeps the few smaller ones
# that cover the pruned prefix, so proofs for what remains never need a deleted record.
audit_tree_nodes = Table(
    "audit_tree_nodes",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Continuous sync of a tenant's log into its own bucket: one row per (tenant, storage grant).
audit_sync_targets = Table(
    "audit_sync_targets",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("grant_id", String(16), primary_key=True),
    Column("prefix", String(200), nullable=False),  # under the grant's prefix, ending in "/"
    Column("enabled_at", UtcDateTime(), nullable=False),
    Column("enabled_by", String(200), nullable=False),
    Column("synced_size", BigInteger, nullable=False),  # 0: nothing synced yet
    Column("synced_root", String(64), nullable=True),
    Column("synced_at", UtcDateTime(), nullable=True),
    Column("attempted_at", UtcDateTime(), nullable=True),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("failures", Integer, nullable=False),  # consecutive failed attempts
    Column("failure", String(500), nullable=True),  # why the last attempt failed (never a secret)
    Column("failed_at", UtcDateTime(), nullable=True),
)

# The published history of audit signing keys: entry n is signed by key n-1 (and by itself).
audit_key_history = Table(
    "audit_key_history",
    audit_metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("entry", LargeBinary(4096), nullable=False),  # canonical JSON of the signed entry
)

# Signed tree heads kept as intermediate checkpoints (every N records or T seconds), and anchors left by pruning.
audit_checkpoints = Table(
    "audit_checkpoints",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), primary_key=True),
    Column("head_hash", String(64), nullable=False),
    Column("root", String(64), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("pruned_count", BigInteger, nullable=False, default=0),
)
