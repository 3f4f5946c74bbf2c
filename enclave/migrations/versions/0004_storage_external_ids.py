"""storage: the ExternalId Enclave generates per tenant and grant name

Revision ID: 0004_storage_external_ids
Revises: 0002_storage
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audit.store.types import UtcDateTime

revision = "0004_storage_external_ids"
down_revision = "0002_storage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_external_ids",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("grant_name", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_storage_external_ids_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "grant_name", name=op.f("pk_storage_external_ids")),
        sa.UniqueConstraint("external_id", name=op.f("uq_storage_external_ids_external_id")),
    )


def downgrade() -> None:
    op.drop_table("storage_external_ids")
