"""Two gateway processes appending to the same tenant at once on MariaDB leave one valid chain."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from audit.signing import generate_private_key_pem, load_private_key
from audit.store.reader import export_range
from audit.store.tables import audit_records
from audit.verify import verify_export
from enclave.db import create_db_engine, session_factory, upgrade
from tests.audit.store.exporting import export_bytes

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
    span = export_range(sessions, "acme", None, None)
    assert count == 2 * PER_PROCESS
    assert dict(actors) == {"gateway-a": PER_PROCESS, "gateway-b": PER_PROCESS}
    assert span is not None and (span.first_seq, span.last_seq) == (1, 2 * PER_PROCESS)
    key = load_private_key(key_file.read_text())
    data = export_bytes(sessions, key, "acme")
    report = verify_export(io.BytesIO(data), key.public_key())
    assert report.ok, report.problems[:5]
    engine.dispose()
