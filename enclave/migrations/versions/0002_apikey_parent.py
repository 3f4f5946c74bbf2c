"""api keys remember the key that created them

Revision ID: 0002_apikey_parent
Revises: 0001
Create Date: 2026-11-30 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_apikey_parent"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=12), nullable=True))
        batch.create_index(batch.f("ix_api_keys_parent_id"), ["parent_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_api_keys_parent_id_api_keys"), "api_keys", ["parent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(batch.f("fk_api_keys_parent_id_api_keys"), type_="foreignkey")
        batch.drop_index(batch.f("ix_api_keys_parent_id"))
        batch.drop_column("parent_id")
