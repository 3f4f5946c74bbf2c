"""The 0005_scim_directory migration builds exactly the tables the models describe (columns, types, keys,
indexes, the binary collation on MySQL), on SQLite and MariaDB, and goes back down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from scim2_models import ScimFilter
from sqlalchemy import inspect, text

from auth.models import Base
from auth.scim import models
from auth.scim.directory import Page
from auth.scim.schema import User
from enclave.db import _alembic_config, create_db_engine
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.scim.helpers import BASE, directory, user_payload
from tests.conftest import fresh_mariadb, make_settings

SCIM_TABLES = {"scim_tokens", "scim_users", "scim_user_emails", "scim_groups", "scim_memberships"}


def _scim_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return (name if type_ == "table" else getattr(table, "name", None)) in SCIM_TABLES


def test_the_migration_is_the_models_and_reverts(database_url: str) -> None:
    assert {t.name for t in Base.metadata.sorted_tables} >= SCIM_TABLES and models.ScimUserRow
    engine = create_db_engine(database_url)
    config = _alembic_config(engine)
    try:
        command.upgrade(config, "heads")
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _scim_only})
            assert compare_metadata(context, Base.metadata) == []
        command.downgrade(config, "0005_scim_directory@-1")
        assert not SCIM_TABLES & set(inspect(engine).get_table_names())
        command.upgrade(config, "heads")
        assert set(inspect(engine).get_table_names()) >= SCIM_TABLES
    finally:
        engine.dispose()


@pytest.fixture
def accent_insensitive_mariadb() -> Iterator[str]:
    """A MariaDB database whose default collation calls `ë` and `e` (and `E`) the same, as many servers' do."""
    with fresh_mariadb("utf8mb4_general_ci") as url:
        yield url


@pytest.mark.mariadb
def test_keys_compare_byte_for_byte_whatever_the_servers_collation(
    accent_insensitive_mariadb: str, tmp_path: Path
) -> None:
    runtime = Runtime.open(make_settings(accent_insensitive_mariadb, tmp_path / "data"))
    try:
        with runtime.engine.connect() as connection:
            collations = dict(
                connection.execute(
                    text(
                        "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'scim_users'"
                    )
                ).all()
            )
        assert collations["user_name_key"] == collations["external_id"] == "utf8mb4_bin"
        services = Services.build(runtime)
        for name in ("zoe", "zoë"):  # two people, not one
            services.scim.create_user(directory(), user_payload(name, externalId=name.upper()), BASE)
        page = services.scim.list_users(directory(), ScimFilter[User]('externalId eq "ZOË"').ast, Page(1, 10), BASE)
        assert [r.user_name for r in page.rows] == ["zoë"]
    finally:
        runtime.close()
