"""The 0004_auth_identity migration on a database that already has users, identities, sessions and a policy
(SQLite and MariaDB): users who signed in keep counting as signed in (an email can no longer claim them),
invited ones stay claimable, sessions opened before re-validation existed are due at once, policies get the
one-hour interval; and it goes back down."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from enclave.db import _alembic_config, create_db_engine

CREATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).replace(tzinfo=None)
LINKED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC).replace(tzinfo=None)


def test_existing_rows_are_carried_over_and_the_migration_reverts(database_url: str) -> None:
    engine = create_db_engine(database_url)
    config = _alembic_config(engine)
    try:
        command.upgrade(config, "0003_sso")
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO tenants (id, display_name, default_role, created_at) "
                    "VALUES ('acme', 'Acme', 'viewer', :t)"
                ),
                {"t": CREATED},
            )
            for user in ("signed-in", "invited"):
                db.execute(
                    text(
                        "INSERT INTO users (id, tenant_id, email, role, created_at) "
                        "VALUES (:id, 'acme', :email, 'member', :t)"
                    ),
                    {"id": user, "email": f"{user}@acme.test", "t": CREATED},
                )
            db.execute(
                text(
                    "INSERT INTO user_identities (id, tenant_id, user_id, provider_id, subject, created_at) "
                    "VALUES ('link-1', 'acme', 'signed-in', 'p1', 'sub-1', :t)"
                ),
                {"t": LINKED},
            )
            db.execute(
                text(
                    "INSERT INTO user_sessions (id, public_id, tenant_id, user_id, provider_id, csrf_token, "
                    "created_at, last_seen_at, expires_at, idle_timeout_seconds) VALUES "
                    "(:id, 'pub1', 'acme', 'signed-in', 'p1', 'c', :t, :t, :t, 600)"
                ),
                {"id": "a" * 64, "t": LINKED},
            )
            db.execute(
                text(
                    "INSERT INTO sso_policies (tenant_id, allowed_domains, jit, role_map, idle_timeout_seconds, "
                    "absolute_timeout_seconds, updated_at) VALUES ('acme', '[]', 0, '{}', 600, 3600, :t)"
                ),
                {"t": CREATED},
            )
        command.upgrade(config, "heads")
        with engine.connect() as db:
            first = {k: v and str(v)[:19] for k, v in db.execute(text("SELECT id, first_sign_in_at FROM users"))}
            assert first == {"signed-in": str(LINKED), "invited": None}
            due = db.execute(text("SELECT revalidate_at FROM user_sessions")).scalar_one()
            assert str(due)[:19] == str(LINKED)  # due at once: it has no credential to re-validate with: it ends
            assert db.execute(text("SELECT revalidate_seconds FROM sso_policies")).scalar_one() == 3600
            assert db.execute(text("SELECT COUNT(*) FROM sso_seen_logout_tokens")).scalar_one() == 0
        command.downgrade(config, "0003_sso")
        with engine.connect() as db:
            columns = db.execute(text("SELECT * FROM users")).keys()
            assert "first_sign_in_at" not in columns
            assert db.execute(text("SELECT COUNT(*) FROM user_sessions")).scalar_one() == 1
    finally:
        engine.dispose()
