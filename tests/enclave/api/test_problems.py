"""Errors mapped once: problem details with the request id for every error (500s and outages included),
security headers and an access-log line by route template on every response, `Allow` listing every method,
and 503 with `Retry-After` (never 500) when the database is unreachable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auth.roles import Role
from enclave.app import create_app
from enclave.db import create_db_engine, session_factory
from enclave.runtime import Runtime
from enclave.services import Services
from enclave.services import api_keys as api_keys_service
from tests.conftest import make_settings
from tests.enclave.api.helpers import bearer, issue_key

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'",
}


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "enclave.gateway" and r.getMessage() == "request"]


def test_a_500_has_a_request_id_a_problem_body_and_an_access_line(
    runtime: Runtime, dedicated: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("secret-looking detail enc_0123")

    monkeypatch.setattr(api_keys_service, "list_api_keys", explode)
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    with caplog.at_level(logging.INFO, logger="enclave.gateway"):
        response = dedicated.get("/api/v1/api-keys", headers={**admin, "X-Request-ID": "req-500-abcdef"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500-abcdef"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "req-500-abcdef"
    assert "secret-looking" not in response.text and "Traceback" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    (line,) = _access_lines(caplog)
    assert line.__dict__["status"] == 500 and line.__dict__["path"] == "/api/v1/api-keys"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "RuntimeError" in errors[0].getMessage() and "api_keys.py" in errors[0].getMessage()
    assert not any("secret-looking" in r.getMessage() for r in caplog.records)


def test_every_response_carries_the_security_headers(dedicated: TestClient) -> None:
    for response in (dedicated.get("/healthz"), dedicated.get("/no/such/path"), dedicated.get("/api/v1/api-keys")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "strict-transport-security" not in response.headers  # plain HTTP here
    https = TestClient(dedicated.app, base_url="https://testserver")
    assert https.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_unknown_paths_and_methods_are_problems_that_echo_nothing(dedicated: TestClient) -> None:
    missing = dedicated.get("/api/v1/enc_0123456789ab_secretsecret")
    assert missing.status_code == 404 and "secretsecret" not in missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = dedicated.put("/api/v1/api-keys")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD, POST"
    assert dedicated.patch("/api/v1/api-keys/0123456789ab").headers["allow"] == "DELETE"


def test_interactive_docs_are_off_and_the_openapi_document_stays(dedicated: TestClient) -> None:
    assert dedicated.get("/docs").status_code == 404
    assert dedicated.get("/redoc").status_code == 404
    assert dedicated.get("/openapi.json").json()["info"]["title"] == "Enclave gateway"


@pytest.fixture
def unreachable(mariadb_url: str, tmp_path: Path) -> Runtime:
    """A gateway whose database went away after start (MariaDB, then pointed at a closed port)."""
    runtime = Runtime.open(make_settings(mariadb_url, tmp_path / "d"))
    runtime.engine.dispose()
    runtime.engine = create_db_engine("mysql+pymysql://root@127.0.0.1:1/gone")
    runtime.sessions = session_factory(runtime.engine)
    return runtime


def test_with_the_database_unreachable_every_act_answers_503(unreachable: Runtime) -> None:
    token = "enc_0123456789ab_" + "A" * 43
    try:
        with TestClient(create_app(Services.build(unreachable)), raise_server_exceptions=False) as client:
            for method, path in (
                ("GET", "/api/v1/api-keys"),
                ("POST", "/api/v1/api-keys"),
                ("GET", "/api/v1/audit/events"),
                ("GET", "/api/v1/audit/export"),
            ):
                response = client.request(method, path, headers=bearer(token), json={"name": "x", "role": "viewer"})
                assert response.status_code == 503, (method, path, response.text)
                assert response.headers["retry-after"] == "5"
                assert "database is unreachable" in response.json()["detail"]
    finally:
        unreachable.close()
