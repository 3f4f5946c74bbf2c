"""audit: Merkle trees and signed tree heads, bucket sync state, signing-key history

Adds each tenant's Merkle tree (its right edge in the head row, its larger complete subtrees in
audit_tree_nodes), the signed tree head in the head row, the root in every checkpoint and anchor, the bucket
sync targets and the key history.

Existing logs are rebuilt into trees from their records. Checkpoints signed before this revision do not state a
root and cannot be re-signed here (a migration holds no key), so they are removed: the gateway signs a tree
head over each existing log when it next appends or runs its periodic checkpoint (a first signature, trusted
on first use; keep an export made before upgrading as evidence of the log before it). A log pruned before
this revision cannot be rebuilt (its oldest records are gone); the upgrade stops and says so.

Revision ID: 0004_audit_proofs
Revises: 0001
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audit.merkle import Frontier, leaf_hash
from audit.store.tree import TILE_LEVEL
from audit.store.types import UtcDateTime

revision = "0004_audit_proofs"
down_revision = "0001"
branch_labels = None
depends_on = None
PAGE = 20_000


def upgrade() -> None:
    op.create_table(
        "audit_tree_nodes",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "level", "idx", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_sync_targets",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("grant_id", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=200), nullable=False),
        sa.Column("enabled_at", UtcDateTime(), nullable=False),
        sa.Column("enabled_by", sa.String(length=200), nullable=False),
        sa.Column("synced_size", sa.BigInteger(), nullable=False),
        sa.Column("synced_root", sa.String(length=64), nullable=True),
        sa.Column("synced_at", UtcDateTime(), nullable=True),
        sa.Column("attempted_at", UtcDateTime(), nullable=True),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("failed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "grant_id", name=op.f("pk_audit_sync_targets")),
    )
    op.create_table(
        "audit_key_history",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.LargeBinary(length=4096), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_key_history")),
        sa.UniqueConstraint("key_id", name=op.f("uq_audit_key_history_key_id")),
    )
    op.execute("DELETE FROM audit_checkpoints")
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.add_column(sa.Column("root", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("audit_heads") as batch:
        batch.add_column(sa.Column("tree", sa.LargeBinary(length=4096), nullable=True))
        batch.add_column(sa.Column("signed_head", sa.LargeBinary(length=4096), nullable=True))
    _build_trees(op.get_bind())
    with op.batch_alter_table("audit_heads") as batch:
        batch.alter_column("tree", existing_type=sa.LargeBinary(length=4096), nullable=False)
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.alter_column("root", existing_type=sa.String(length=64), server_default=None)


def _build_trees(connection: sa.Connection) -> None:
    heads = connection.execute(sa.text("SELECT tenant_id, seq FROM audit_heads")).all()
    for tenant, size in heads:
        frontier = Frontier()
        after = 0
        while after < size:
            rows = connection.execute(
                sa.text(
                    "SELECT seq, hash FROM audit_records WHERE tenant_id = :tenant AND seq > :after AND seq <= :size "
                    "ORDER BY seq LIMIT :page"
                ),
                {"tenant": tenant, "after": after, "size": size, "page": PAGE},
            ).all()
            if not rows or rows[0][0] != after + 1:
                raise RuntimeError(
                    f"the audit log of {tenant} lacks record {after + 1} (it was pruned before Merkle trees existed): "
                    "its tree cannot be rebuilt. Export it with the previous release, then remove its audit_records, "
                    "audit_heads and audit_checkpoints rows and upgrade again"
                )
            kept = frontier.extend((leaf_hash(bytes.fromhex(value)) for _, value in rows), keep_level=TILE_LEVEL)
            if kept:
                connection.execute(
                    sa.text("INSERT INTO audit_tree_nodes (tenant_id, level, idx, hash) VALUES (:t, :l, :i, :h)"),
                    [{"t": tenant, "l": node.level, "i": node.index, "h": value} for node, value in kept],
                )
            after = rows[-1][0]
        connection.execute(
            sa.text("UPDATE audit_heads SET tree = :tree WHERE tenant_id = :tenant"),
            {"tree": frontier.to_bytes(), "tenant": tenant},
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_heads") as batch:
        batch.drop_column("signed_head")
        batch.drop_column("tree")
    op.execute("DELETE FROM audit_checkpoints")
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("root")
    op.drop_table("audit_key_history")
    op.drop_table("audit_sync_targets")
    op.drop_table("audit_tree_nodes")
