"""SCIM provisioning: the directory's tokens, users, their emails, groups and memberships

A branch of its own from 0001 (it needs only `tenants` and `users`); the gateway upgrades every head.

Revision ID: 0005_scim_directory
Revises: 0001
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from audit.store.types import UtcDateTime

revision = "0005_scim_directory"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME_LENGTH = 256
EMAIL_LENGTH = 320


def exact_string(length: int) -> TypeEngine[str]:
    """Compared byte for byte on every database (a binary collation on MySQL)."""
    return sa.String(length).with_variant(mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql")


def upgrade() -> None:
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("replaced_by", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_scim_tokens_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
    )
    op.create_index(op.f("ix_scim_tokens_tenant_id"), "scim_tokens", ["tenant_id"], unique=False)
    op.create_table(
        "scim_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("user_name", sa.String(length=NAME_LENGTH), nullable=False),
        sa.Column("user_name_key", exact_string(NAME_LENGTH), nullable=True),
        sa.Column("external_id", exact_string(NAME_LENGTH), nullable=True),
        sa.Column("display_name_key", exact_string(NAME_LENGTH), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.Column("disabled_by_directory", sa.Boolean(), nullable=False),
        sa.Column("idp_offboarding_pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_scim_users_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_scim_users_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_users")),
        sa.UniqueConstraint("tenant_id", "user_name_key", name=op.f("uq_scim_users_tenant_id_user_name_key")),
        sa.UniqueConstraint("user_id", name=op.f("uq_scim_users_user_id")),
    )
    op.create_index("ix_scim_users_tenant_id_external_id", "scim_users", ["tenant_id", "external_id"], unique=False)
    op.create_index("ix_scim_users_tenant_id_created_at", "scim_users", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "scim_user_emails",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("scim_user_id", sa.String(length=32), nullable=False),
        sa.Column("value_key", exact_string(EMAIL_LENGTH), nullable=False),
        sa.Column("type_key", exact_string(64), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_scim_user_emails_tenant_id_tenants")),
        sa.ForeignKeyConstraint(
            ["scim_user_id"], ["scim_users.id"], name=op.f("fk_scim_user_emails_scim_user_id_scim_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_user_emails")),
    )
    op.create_index(op.f("ix_scim_user_emails_scim_user_id"), "scim_user_emails", ["scim_user_id"], unique=False)
    op.create_index(
        "ix_scim_user_emails_tenant_id_value_key", "scim_user_emails", ["tenant_id", "value_key"], unique=False
    )
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=NAME_LENGTH), nullable=False),
        sa.Column("display_name_key", exact_string(NAME_LENGTH), nullable=False),
        sa.Column("external_id", exact_string(NAME_LENGTH), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_scim_groups_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
        sa.UniqueConstraint("tenant_id", "display_name_key", name=op.f("uq_scim_groups_tenant_id_display_name_key")),
    )
    op.create_index("ix_scim_groups_tenant_id_external_id", "scim_groups", ["tenant_id", "external_id"], unique=False)
    op.create_index("ix_scim_groups_tenant_id_created_at", "scim_groups", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "scim_memberships",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("scim_user_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("display", sa.String(length=NAME_LENGTH), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["scim_groups.id"], name=op.f("fk_scim_memberships_group_id_scim_groups")
        ),
        sa.ForeignKeyConstraint(
            ["scim_user_id"], ["scim_users.id"], name=op.f("fk_scim_memberships_scim_user_id_scim_users")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_scim_memberships_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("group_id", "scim_user_id", name=op.f("pk_scim_memberships")),
    )
    op.create_index(op.f("ix_scim_memberships_scim_user_id"), "scim_memberships", ["scim_user_id"], unique=False)


def downgrade() -> None:
    # dropping a table drops its indexes (MySQL refuses to drop one a foreign key still needs)
    for table in ("scim_memberships", "scim_groups", "scim_user_emails", "scim_users", "scim_tokens"):
        op.drop_table(table)
