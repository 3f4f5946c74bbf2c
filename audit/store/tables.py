"""Audit tables. The canonical body bytes are the system of record; the other columns index them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    LargeBinary,
    MetaData,
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

# One row per tenant: where its chain stands. Appenders lock this row, which serializes them per tenant
# across processes and replicas.
audit_heads = Table(
    "audit_heads",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("checkpoint_seq", BigInteger, nullable=False),
    Column("checkpoint_at", UtcDateTime(), nullable=False),
)

# Signed checkpoints over the chain head, and anchors left by pruning.
audit_checkpoints = Table(
    "audit_checkpoints",
    audit_metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), primary_key=True),
    Column("head_hash", String(64), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("pruned_count", BigInteger, nullable=False, default=0),
)
