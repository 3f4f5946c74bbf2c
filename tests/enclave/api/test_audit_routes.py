"""The audit log over HTTP: queries with filters and paging, exports in every format, bad input refused
with a clear error (never a 500) and validated before anything is audited, and fail-closed behaviour."""

from __future__ import annotations

import csv
import io
import socket
import threading
import time

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from audit.export.trailer import verify_trailer
from audit.signing import load_public_key
from audit.verify import verify_export
from auth.roles import Role
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.audit_export import PreparedExport
from tests.enclave.api.helpers import bearer, issue_key


def _count(runtime: Runtime, action: str) -> int:
    with runtime.sessions() as session:
        found = session.execute(
            text("SELECT COUNT(*) FROM audit_records WHERE action = :a"), {"a": action}
        ).scalar_one()
    return int(found)


def test_query_filters_and_paging(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    for _ in range(5):
        dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "k", "role": "viewer"})
    params: dict[str, str | int] = {"action": "auth.apikey.created", "limit": 4}
    first = dedicated.get("/api/v1/audit/events", headers=admin, params=params).json()
    assert len(first["events"]) == 4 and first["next_cursor"]
    second = dedicated.get(
        "/api/v1/audit/events", headers=admin, params={**params, "cursor": first["next_cursor"]}
    ).json()
    assert len(second["events"]) == 2 and second["next_cursor"] is None
    seqs = [e["seq"] for e in first["events"] + second["events"]]
    assert seqs == sorted(seqs)
    same = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert dedicated.get("/api/v1/audit/events", headers=admin, params=same).json()["events"] == []
    queried = dedicated.get("/api/v1/audit/events", headers=admin, params={"action": "audit.queried"}).json()
    assert len(queried["events"]) >= 3  # every query is itself on the record


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"cursor": "c2VxOjkyMjMzNzIwMzY4NTQ3NzU4MDg"}, 422, "cursor"),  # the huge cursor that was a 500
        ({"cursor": str(2**63)}, 422, "cursor"),
        ({"since": "0001-01-01T00:00:00+01:00"}, 400, "between 1970 and 9998"),
        ({"until": "9999-12-31T23:59:59-01:00"}, 400, "between 1970 and 9998"),
        ({"until": "0.5"}, 400, "date-time with a zone"),
        ({"since": "2026-01-01T00:00:00"}, 400, "date-time with a zone"),
        ({"since": "2026-01-01T00:00:00Z\n"}, 400, "date-time with a zone"),
        ({"action": "no.such"}, 400, "unknown action"),
        ({"limit": 5000}, 422, "limit"),
    ],
)
def test_bad_queries_get_a_clear_client_error(
    runtime: Runtime, dedicated: TestClient, params: dict[str, str], status: int, words: str
) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    response = dedicated.get("/api/v1/audit/events", headers=admin, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-01:00"},
        {"until": "0.5"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ],
)
def test_a_refused_export_leaves_no_export_record(
    runtime: Runtime, dedicated: TestClient, params: dict[str, str]
) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    response = dedicated.get("/api/v1/audit/export", headers=auditor, params=params)
    assert response.status_code == 400
    assert "--since" not in response.json()["detail"]  # API wording, not the CLI's
    assert _count(runtime, "audit.exported") == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "ocsf"])
def test_export_streams_every_format_and_jsonl_verifies(runtime: Runtime, dedicated: TestClient, fmt: str) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    response = dedicated.get("/api/v1/audit/export", headers=auditor, params={"format": fmt})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    if fmt == "jsonl":
        assert response.headers["content-type"] == "application/x-ndjson"
        key = load_public_key(dedicated.get("/api/v1/audit/public-key").text)
        report = verify_export(io.BytesIO(response.content), key)
        assert report.ok, report.problems
    elif fmt == "csv":
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert any(row.get("action") == "audit.exported" for row in rows)
    else:
        *events, trailer = response.content.splitlines(keepends=True)
        classes = {orjson.loads(line)["class_uid"] for line in events}
        assert classes <= {3001, 3002, 6003} and classes
        assert trailer.startswith(b'{"enclave_trailer":')
    if fmt != "jsonl":  # CSV and OCSF end with a signed trailer over every byte before it
        report = verify_trailer(response.content.splitlines(keepends=True), runtime.signing_key.public_key())
        assert report.ok, report.problems
    assert dedicated.get("/api/v1/audit/export", headers=auditor, params={"format": "xml"}).status_code == 422


def test_an_export_that_fails_midway_is_aborted_not_ended(
    runtime: Runtime, dedicated: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream raises instead of ending cleanly, so the server aborts the response."""
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    real_write = PreparedExport.write

    def failing_write(self: PreparedExport, out: io.BufferedIOBase, on_record: object = None) -> int:
        out.write(b'{"partial": true}\n' * 10_000)  # past one stream chunk: the response has started
        raise ConnectionError("database went away")

    monkeypatch.setattr(PreparedExport, "write", failing_write)
    with pytest.raises(Exception, match="aborted"):
        dedicated.get("/api/v1/audit/export", headers=auditor, params={"format": "csv"})
    monkeypatch.setattr(PreparedExport, "write", real_write)
    assert dedicated.get("/api/v1/audit/export", headers=auditor).status_code == 200


def test_a_real_client_sees_a_failed_export_as_broken(
    runtime: Runtime, dedicated: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through uvicorn on a loopback port: the client gets an incomplete response, never a clean end."""
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))

    def failing_write(self: PreparedExport, out: io.BufferedIOBase, on_record: object = None) -> int:
        out.write(b"seq,time\n" * 20_000)
        raise ConnectionError("database went away")

    monkeypatch.setattr(PreparedExport, "write", failing_write)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(dedicated.app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("GET", "/api/v1/audit/export", headers=auditor, params={"format": "csv"}) as response,
        ):
            assert response.status_code == 200  # the headers went out before the failure
            for _ in response.iter_bytes():
                pass
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_when_the_audit_log_cannot_be_written_the_act_is_refused(runtime: Runtime, dedicated: TestClient) -> None:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    with transaction(runtime.sessions) as session:
        session.execute(text("DROP TABLE audit_records"))
    created = dedicated.post("/api/v1/api-keys", headers=admin, json={"name": "nope", "role": "viewer"})
    assert created.status_code == 503 and created.headers["retry-after"]
    with runtime.sessions() as session:
        assert session.execute(text("SELECT COUNT(*) FROM api_keys WHERE name = 'nope'")).scalar() == 0
    details = {
        dedicated.get(path, headers=admin).json()["detail"] for path in ("/api/v1/audit/export", "/api/v1/audit/events")
    }
    assert details == {created.json()["detail"]}  # one message, from one handler
