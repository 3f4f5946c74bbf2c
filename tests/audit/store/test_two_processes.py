"""Two gateway processes appending to the same tenant at once on MariaDB leave one valid chain."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from audit.export.jsonl import ExportHeader, write_jsonl
from audit.signing import generate_private_key_pem, key_id, load_private_key
from audit.store.reader import export_items, export_range
from audit.store.tables import audit_records
from audit.verify import verify_export
from enclave.db import create_db_engine, session_factory, upgrade

HELPER = Path(__file__).with_name("appender_process.py")
PER_PROCESS = 300


def test_two_processes_appending_concurrently_leave_a_valid_chain(mariadb_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(mariadb_url)
    upgrade(engine)
    key_file = tmp_path / "key.pem"
    key_file.write_text(generate_private_key_pem())
    processes = [
        subprocess.Popen(
            [sys.executable, str(HELPER), mariadb_url, str(key_file), str(PER_PROCESS), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("gateway-a", "gateway-b")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()

    sessions = session_factory(engine)
    with sessions() as session:
        count = session.execute(select(func.count()).select_from(audit_records)).scalar_one()
        actors = session.execute(
            select(audit_records.c.actor_id, func.count()).group_by(audit_records.c.actor_id)
        ).all()
        span = export_range(session, "acme", None, None)
    assert count == 2 * PER_PROCESS
    assert dict(actors) == {"gateway-a": PER_PROCESS, "gateway-b": PER_PROCESS}
    assert span is not None and (span.first_seq, span.last_seq) == (1, 2 * PER_PROCESS)
    key = load_private_key(key_file.read_text())
    out = io.BytesIO()
    header = ExportHeader(
        tenant="acme",
        since=None,
        until=None,
        exported_at=datetime.now(UTC),
        exported_by="test",
        key_id=key_id(key.public_key()),
    )
    write_jsonl(out, header, export_items(sessions, span), key)
    report = verify_export(io.BytesIO(out.getvalue()), key.public_key())
    assert report.ok, report.problems[:5]
    engine.dispose()
