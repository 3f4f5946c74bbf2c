"""Shared fixtures: real databases (SQLite files, and the machine's MariaDB with a fresh database per test),
and a gateway runtime on either."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from enclave.runtime import Runtime
from enclave.settings import Settings

MARIADB = {"host": os.environ.get("TEST_MYSQL_HOST", "127.0.0.1"), "port": 3306, "user": "root", "password": ""}


def _admin() -> pymysql.connections.Connection:
    try:
        return pymysql.connect(**MARIADB, connect_timeout=5)  # type: ignore[arg-type]
    except pymysql.err.OperationalError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"MariaDB at 127.0.0.1:3306 is not answering ({exc}); run scripts/services.sh")


@contextmanager
def fresh_mariadb(collation: str = "utf8mb4_bin") -> Iterator[str]:
    """A fresh, empty MariaDB database (with this default collation), dropped afterwards."""
    name = f"enclave_t_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE {collation}")
    try:
        yield f"mysql+pymysql://{MARIADB['user']}@{MARIADB['host']}:{MARIADB['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    with fresh_mariadb() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'enclave.db'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'enclave.db'}"
    url: str = request.getfixturevalue("mariadb_url")
    return url


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": database_url, "data_dir": data_dir, "tenant": "acme"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(make_settings(database_url, tmp_path / "data"))
    try:
        yield opened
    finally:
        opened.close()
