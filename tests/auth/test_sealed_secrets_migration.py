"""The 0005_sealed_secrets migration on a database that already holds client secrets and refresh tokens in
clear (SQLite and MariaDB): it seals them in place under the gateway's key, refuses to run without a key
(leaving everything as it was), and going down opens them again."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, text

from auth.sealing import PREFIX, SealingError, SecretSealer, bind_sealer
from enclave.db import _alembic_config, create_db_engine

SECRET = "client-secret-in-clear-before-0005"
REFRESH = "refresh-token-in-clear-before-0005"
T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).replace(tzinfo=None)


def at_0004_with_secrets(engine: Engine) -> None:
    command.upgrade(_alembic_config(engine), "0004_auth_identity")
    with engine.begin() as db:
        db.execute(
            text("INSERT INTO tenants (id, display_name, default_role, created_at) VALUES ('acme', 'A', 'viewer', :t)"),
            {"t": T},
        )
        db.execute(
            text(
                "INSERT INTO sso_providers (id, tenant_id, name, kind, issuer, client_id, client_secret, options, "
                "created_at) VALUES ('p1', 'acme', 'corp', 'oidc', 'https://idp.test', 'c', :s, '{}', :t), "
                "('p2', 'acme', 'public', 'oidc', 'https://idp.test', 'c', NULL, '{}', :t)"
            ),
            {"s": SECRET, "t": T},
        )
        db.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, role, created_at) VALUES ('u1', 'acme', 'a@x', 'member', :t)"
            ),
            {"t": T},
        )
        db.execute(
            text(
                "INSERT INTO user_sessions (id, public_id, tenant_id, user_id, provider_id, csrf_token, created_at, "
                "last_seen_at, expires_at, idle_timeout_seconds, idp_token) VALUES "
                "(:id, 'pub1', 'acme', 'u1', 'p1', 'c', :t, :t, :t, 600, :r)"
            ),
            {"id": "a" * 64, "t": T, "r": REFRESH},
        )


def stored(engine: Engine) -> tuple[list[str | None], str]:
    with engine.connect() as db:
        secrets = list(db.execute(text("SELECT client_secret FROM sso_providers ORDER BY id")).scalars())
        return secrets, db.execute(text("SELECT idp_token FROM user_sessions")).scalar_one()


def test_secrets_in_clear_are_sealed_in_place_and_opened_again_going_down(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        at_0004_with_secrets(engine)
        sealer = SecretSealer(os.urandom(32))
        bind_sealer(engine, sealer)
        command.upgrade(_alembic_config(engine), "heads")
        (secret, none), refresh = stored(engine)
        assert none is None
        assert secret is not None and secret.startswith(f"{PREFIX}{sealer.key_id}:") and SECRET not in secret
        assert refresh.startswith(f"{PREFIX}{sealer.key_id}:") and REFRESH not in refresh
        assert sealer.open(secret, "sso_providers.client_secret") == SECRET
        assert sealer.open(refresh, "user_sessions.idp_token") == REFRESH
        command.downgrade(_alembic_config(engine), "0004_auth_identity")
        assert stored(engine) == ([SECRET, None], REFRESH)
    finally:
        engine.dispose()


def test_without_a_key_the_migration_refuses_and_changes_nothing(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        at_0004_with_secrets(engine)
        with pytest.raises(SealingError, match="no secrets key is bound") as refused:
            command.upgrade(_alembic_config(engine), "0005_sealed_secrets")
        assert SECRET not in str(refused.value) and REFRESH not in str(refused.value)
        assert stored(engine) == ([SECRET, None], REFRESH)
        with engine.connect() as db:
            assert "0005_sealed_secrets" not in db.execute(text("SELECT version_num FROM alembic_version")).scalars()
    finally:
        engine.dispose()
