"""Gateways for the API tests: dedicated (SQLite and MariaDB) and shared with tenants acme and globex."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.tenants import create_tenant
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from enclave.settings import Mode
from tests.conftest import make_settings
from tests.enclave.api.helpers import OPERATOR_TOKEN


@pytest.fixture
def dedicated(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(Services.build(runtime))) as client:
        yield client


def open_shared(database_url: str, data_dir: Path, **overrides: object) -> Runtime:
    settings = make_settings(
        database_url, data_dir, mode=Mode.SHARED, tenant=None, operator_token=OPERATOR_TOKEN, **overrides
    )
    runtime = Runtime.open(settings)
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "acme", hostname="acme.enclave.test")
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex", hostname="globex.enclave.test")
    return runtime


@pytest.fixture
def shared(database_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = open_shared(database_url, tmp_path / "data")
    with TestClient(create_app(Services.build(runtime)), base_url="http://acme.enclave.test") as client:
        yield runtime, client
    runtime.close()


@pytest.fixture
def shared_sqlite(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = open_shared(sqlite_url, tmp_path / "data")
    with TestClient(create_app(Services.build(runtime)), base_url="http://acme.enclave.test") as client:
        yield runtime, client
    runtime.close()
