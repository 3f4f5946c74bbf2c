"""The audit store on a fresh database: SQLite, and the machine's MariaDB (every test using it runs on both)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from enclave.db import create_db_engine, session_factory, upgrade


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
