"""Alembic environment: the engine comes from enclave.db.upgrade (never from a URL in a file)."""

from __future__ import annotations

from alembic import context

from audit.store.tables import audit_metadata
from auth.models import Base

target_metadata = [Base.metadata, audit_metadata]

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
