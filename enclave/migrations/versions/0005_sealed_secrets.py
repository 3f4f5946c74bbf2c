"""stored client secrets and refresh tokens are sealed (AES-256-GCM under the deployment's secrets key)

Values already stored in clear are sealed in place under the current key; going down opens them again. Either
way needs the secrets key the gateway runs with (enclave.runtime binds it before migrating); a database with
nothing to seal needs none.

Revision ID: 0005_sealed_secrets
Revises: 0004_auth_identity
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from auth.sealing import SecretSealer, sealer_for

revision = "0005_sealed_secrets"
down_revision = "0004_auth_identity"
branch_labels = None
depends_on = None

# (table, key column, sealed column): frozen here, as every migration's view of the schema is
SEALED = (("sso_providers", "id", "client_secret"), ("user_sessions", "id", "idp_token"))


def _rewrite(change: Callable[[SecretSealer, str, str], str]) -> None:
    bind = op.get_bind()
    for table_name, key, column in SEALED:
        table = sa.table(table_name, sa.column(key, sa.String()), sa.column(column, sa.Text()))
        rows = bind.execute(sa.select(table.c[key], table.c[column]).where(table.c[column].is_not(None))).all()
        if not rows:
            continue
        sealer = sealer_for(bind.dialect)
        purpose = f"{table_name}.{column}"
        for row_key, value in rows:
            bind.execute(table.update().where(table.c[key] == row_key).values({column: change(sealer, value, purpose)}))


def upgrade() -> None:
    _rewrite(lambda sealer, value, purpose: sealer.seal(value, purpose))


def downgrade() -> None:
    _rewrite(lambda sealer, value, purpose: sealer.open(value, purpose))
