"""Every `enclave` command that opens the runtime, with the database down: one line saying what is wrong,
exit status 1, no traceback, no password."""

from __future__ import annotations

import socket
from pathlib import Path

import pymysql
import pytest
from rich.progress import Progress, TaskID
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import audit.store.reader
from enclave.cli.main import app
from tests.conftest import MARIADB

runner = CliRunner()
PASSWORD = "s3cret-db-password"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENCLAVE_TENANT", "acme")
    monkeypatch.setenv("ENCLAVE_DATABASE_URL", f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:{closed_port()}/enclave")
    return tmp_path


COMMANDS = [
    ["db", "upgrade"],
    ["tenant", "list"],
    ["tenant", "add", "globex"],
    ["apikey", "list", "--tenant", "acme"],
    ["apikey", "create", "--tenant", "acme", "--role", "admin"],
    ["apikey", "revoke", "0123456789ab", "--tenant", "acme"],
    ["audit", "export", "--tenant", "acme", "--out", "{tmp}/acme.jsonl"],
    ["audit", "prune", "--tenant", "acme", "--before", "2020-01-01", "--yes"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_database_down_is_one_clear_line(down: Path, command: list[str]) -> None:
    result = runner.invoke(app, [part.replace("{tmp}", str(down)) for part in command])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith("error: the database at mysql+pymysql://root:***@127.0.0.1:")
    assert "is unavailable: Can't connect to MySQL server" in message
    assert PASSWORD not in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (down / "acme.jsonl").exists()


def test_database_lost_during_an_export(mariadb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database goes away between two pages of an export: one line, exit 1, no file under the real name."""
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENCLAVE_TENANT", "acme")
    monkeypatch.setenv("ENCLAVE_DATABASE_URL", mariadb_url)
    for _ in range(3):
        assert runner.invoke(app, ["apikey", "create", "--tenant", "acme", "--role", "viewer"]).exit_code == 0
    monkeypatch.setattr(audit.store.reader, "EXPORT_PAGE", 2)
    advance = Progress.advance

    def advance_then_lose_the_database(self: Progress, task: TaskID, advance_by: float = 1) -> None:
        advance(self, task, advance_by)
        if self.tasks[0].completed == 1:
            admin = pymysql.connect(**MARIADB)  # type: ignore[arg-type]
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE {make_url(mariadb_url).database}")
            admin.close()

    monkeypatch.setattr(Progress, "advance", advance_then_lose_the_database)
    out = tmp_path / "acme.jsonl"
    result = runner.invoke(app, ["audit", "export", "--tenant", "acme", "--out", str(out)])
    assert result.exit_code == 1, result.output
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the export of acme's audit log broke off after 2 of 5 records")
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists() and (tmp_path / "acme.jsonl.partial").exists()
    assert b'"type":"proof"' not in (tmp_path / "acme.jsonl.partial").read_bytes()
