"""storage grants

Revision ID: 0002_storage
Revises: 0001
Create Date: 2026-11-30 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audit.store.types import UtcDateTime

revision = "0002_storage"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_grants",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("backend", sa.String(length=10), nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=511), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("endpoint", sa.String(length=500), nullable=True),
        sa.Column("role_arn", sa.String(length=300), nullable=True),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("ttl_default_seconds", sa.Integer(), nullable=False),
        sa.Column("ttl_max_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("status_changed_at", UtcDateTime(), nullable=False),
        sa.Column("status_changed_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("probe_status", sa.String(length=10), nullable=True),
        sa.Column("probe_detail", sa.String(length=500), nullable=True),
        sa.Column("probed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_storage_grants_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_grants")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_storage_grants_tenant_id_name")),
    )
    op.create_index(op.f("ix_storage_grants_tenant_id"), "storage_grants", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_storage_grants_tenant_id"), table_name="storage_grants")
    op.drop_table("storage_grants")
