"""enclave.services.audit_export: an export that loses its database mid-stream raises (never ends quietly), logs one
structured line, and a JSONL export cut this way has no proof; a log whose oldest records were deleted by
hand is not exported at all."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pymysql
import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url

import audit.store.reader
from audit.events import AuditEvent
from audit.export.trailer import verify_trailer
from audit.store.tables import audit_records
from audit.verify import ProblemKind, verify_export
from enclave.cli.common import cli_actor
from enclave.db import transaction
from enclave.logging import JsonFormatter
from enclave.runtime import Runtime
from enclave.services.audit_export import ExportError, ExportFailedError, ExportFormat, prepare_export
from tests.conftest import MARIADB, make_settings


@pytest.fixture
def runtime(mariadb_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(make_settings(mariadb_url, tmp_path / "data"))
    with transaction(opened.sessions) as session:
        for i in range(40):
            opened.audit.append(
                session, AuditEvent(tenant="acme", actor=cli_actor(), action="audit.demo", details={"i": i})
            )
    try:
        yield opened
    finally:
        opened.close()


def drop_database(url: str) -> None:
    """The database goes away under the export (as in an outage: every later query fails)."""
    admin = pymysql.connect(**MARIADB)  # type: ignore[arg-type]
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE {make_url(url).database}")
    finally:
        admin.close()


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_database_lost_mid_export_raises_and_logs_one_json_line(
    runtime: Runtime,
    mariadb_url: str,
    export_format: ExportFormat,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(audit.store.reader, "EXPORT_PAGE", 10)  # several pages: the outage hits between two
    prepared = prepare_export(runtime, cli_actor(), "acme", since=None, until=None, export_format=export_format)
    seen = [0]

    def on_record() -> None:
        seen[0] += 1
        if seen[0] == 5:
            drop_database(mariadb_url)

    out = io.BytesIO()
    with (
        caplog.at_level(logging.ERROR, logger="enclave.services.audit_export"),
        pytest.raises(ExportFailedError) as failure,
    ):
        prepared.write(out, on_record=on_record)
    assert "broke off after 10 of 42 records" in str(failure.value)
    assert failure.value.__cause__ is not None  # the database error is kept for the caller, not swallowed
    (logged,) = [record for record in caplog.records if record.name == "enclave.services.audit_export"]
    line = orjson.loads(JsonFormatter().format(logged))
    assert line["level"] == "ERROR" and line["tenant"] == "acme"
    assert "audit export failed after 10 of 42 records" in line["message"]
    if export_format is ExportFormat.JSONL:
        data = out.getvalue()
        assert b'"type":"proof"' not in data  # no proof: nobody can take it for complete
        report = verify_export(io.BytesIO(data), runtime.signing_key.public_key())
        assert [p.kind for p in report.problems] == [ProblemKind.TRUNCATED]


def test_export_of_a_log_missing_its_oldest_records_is_refused(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(delete(audit_records).where(audit_records.c.seq <= 10))
    with pytest.raises(ExportError, match=r"records 1\.\.10 are neither present nor covered .*; export refused"):
        prepare_export(runtime, cli_actor(), "acme", since=None, until=None, export_format=ExportFormat.JSONL)


@pytest.mark.parametrize("export_format", [ExportFormat.CSV, ExportFormat.OCSF])
def test_csv_and_ocsf_exports_end_with_a_signed_trailer_a_cut_file_fails(
    runtime: Runtime, export_format: ExportFormat
) -> None:
    prepared = prepare_export(runtime, cli_actor(), "acme", since=None, until=None, export_format=export_format)
    out = io.BytesIO()
    assert prepared.write(out) == 42  # tenant.created, 40 records and the export itself
    lines = out.getvalue().splitlines(keepends=True)
    report = verify_trailer(lines, runtime.signing_key.public_key())
    assert report.ok, report.problems
    assert report.records == 42 and report.trailer["header"]["tenant"] == "acme"
    cut = verify_trailer([*lines[:5], *lines[6:]], runtime.signing_key.public_key())
    assert cut.problems == [
        "the file's content is not what the trailer signs: it was altered, cut or extended",
        "the trailer counts 42 records, the file holds 41",
    ]
    assert not verify_trailer(lines[:-1], runtime.signing_key.public_key()).ok
