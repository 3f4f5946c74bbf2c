"""Database engines (MySQL through PyMySQL, or SQLite), sessions and Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUnavailableError(RuntimeError):
    """The database cannot be reached or is not migrated; the message says which and what to do."""


# What a driver raises when the server is down, refuses the connection or drops it mid-statement.
CONNECTION_ERRORS = (exc.OperationalError, exc.InterfaceError)


def unavailable(engine: Engine, error: Exception) -> DatabaseUnavailableError:
    """A one-line DatabaseUnavailableError for a connection failure: where, and the driver's reason (the URL
    is shown without its password)."""
    where = engine.url.render_as_string(hide_password=True)
    reason = getattr(error, "orig", None) or error
    args = getattr(reason, "args", ())
    message = args[-1] if args and isinstance(args[-1], str) else str(reason)  # PyMySQL: (code, message)
    detail = " ".join(message.split()) or type(reason).__name__
    return DatabaseUnavailableError(f"the database at {where} is unavailable: {detail}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None); we BEGIN ourselves, IMMEDIATE,
    # so a transaction takes the write lock up front instead of failing on upgrade under concurrency.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    """An engine for `url`, tuned for the dialect: durable writes, fair locking, no stale connections."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "mysql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
            connect_args={"charset": "utf8mb4", "connect_timeout": 5},
        )
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use mysql+pymysql:// or sqlite://")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error (so a failed audit append undoes the
    act it records)."""
    with sessions() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied (idempotent). Every head: features add their tables on branches
    of their own from the initial schema, so two features never fight over one revision id."""
    command.upgrade(_alembic_config(engine), "heads")


def check_ready(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseUnavailableError(f"database unreachable: {type(exc).__name__}") from None
