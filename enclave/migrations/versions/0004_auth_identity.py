"""identity is (provider, subject): first sign-in per user, session re-validation and back-channel logout

Users remember their first sign-in (only a user who never signed in may be claimed by email). Sessions keep
what re-validation and back-channel logout need (the identity, the provider's sid, the login nonce's hash,
the credential the provider is asked again with, when it is due). Sign-in policies gain the re-validation
interval. Back-channel logout tokens already acted on are remembered while a replay could still be accepted.

Existing users with an identity count as signed in (at their first link). Existing provider sessions were
opened without a credential to re-validate with: they are due at once, so each ends at its next use (the
user signs in again).

Revision ID: 0004_auth_identity
Revises: 0003_sso
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audit.store.types import UtcDateTime

revision = "0004_auth_identity"
down_revision = "0003_sso"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("first_sign_in_at", UtcDateTime(), nullable=True))
    op.execute(
        "UPDATE users SET first_sign_in_at = "
        "(SELECT MIN(user_identities.created_at) FROM user_identities WHERE user_identities.user_id = users.id)"
    )
    with op.batch_alter_table("user_sessions") as batch:
        batch.add_column(sa.Column("identity_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("idp_session_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("nonce_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("idp_token", sa.Text(), nullable=True))
        batch.add_column(sa.Column("revalidate_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("revalidating_until", UtcDateTime(), nullable=True))
        batch.create_index("ix_user_sessions_provider_id_idp_session_id", ["provider_id", "idp_session_id"])
    op.execute("UPDATE user_sessions SET revalidate_at = created_at WHERE provider_id IS NOT NULL")
    with op.batch_alter_table("sso_policies") as batch:
        batch.add_column(sa.Column("revalidate_seconds", sa.Integer(), nullable=False, server_default="3600"))
    op.create_table(
        "sso_seen_logout_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sso_seen_logout_tokens_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_seen_logout_tokens")),
    )
    op.create_index(
        op.f("ix_sso_seen_logout_tokens_expires_at"), "sso_seen_logout_tokens", ["expires_at"], unique=False
    )


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, MySQL): a batch would rebuild `users`, which the
    # foreign keys pointing at it forbid on SQLite
    op.drop_index(op.f("ix_sso_seen_logout_tokens_expires_at"), table_name="sso_seen_logout_tokens")
    op.drop_table("sso_seen_logout_tokens")
    op.drop_column("sso_policies", "revalidate_seconds")
    op.drop_index("ix_user_sessions_provider_id_idp_session_id", table_name="user_sessions")
    for column in ("revalidating_until", "revalidate_at", "idp_token", "nonce_hash", "idp_session_id", "identity_id"):
        op.drop_column("user_sessions", column)
    op.drop_column("users", "first_sign_in_at")
