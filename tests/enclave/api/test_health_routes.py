"""Probes: liveness, and readiness of the database and the cache (in-process and the machine's Redis)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Services
from tests.conftest import make_settings


def test_health_and_readiness(dedicated: TestClient) -> None:
    assert dedicated.get("/healthz").json() == {"status": "ok"}
    ready = dedicated.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}
    assert "x-request-id" in ready.headers


def test_readiness_fails_when_the_cache_is_unreachable(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d", cache_url="redis://127.0.0.1:1/0"))
    try:
        with TestClient(create_app(Services.build(runtime))) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "ok"
        assert "unreachable" in response.json()["checks"]["cache"]
    finally:
        runtime.close()


def test_readiness_with_the_machines_redis(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "d", cache_url="redis://127.0.0.1:6379/0"))
    try:
        with TestClient(create_app(Services.build(runtime))) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        runtime.close()
