"""`enclave storage ...` on the embedded default (SQLite under a temporary data dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from enclave.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENCLAVE_TENANT", "acme")
    monkeypatch.delenv("ENCLAVE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ENCLAVE_CACHE_URL", raising=False)
    # Wide enough that tables do not wrap. The CLI's console reads COLUMNS once, when enclave.cli is first
    # imported (by whichever test ran first in this worker), so the console itself is replaced.
    monkeypatch.setattr("enclave.cli.common.console", Console(width=250))


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["storage", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("env")
def test_connect_list_status_revoke_restore() -> None:
    code, out, err = run(
        "connect",
        "--tenant",
        "acme",
        "--backend",
        "local",
        "--bucket",
        "data",
        "--prefix",
        "tenants/acme",
        "--reason",
        "first run",
    )
    assert code == 0, err
    assert "connected" in out and "local://data/tenants/acme/" in out
    code, out, _ = run("list", "--tenant", "acme")
    assert code == 0 and "tenants/acme/" in out and "active" in out
    code, _, err = run("revoke", "--tenant", "acme")
    assert code == 2 and "--reason" in err
    code, out, _ = run("revoke", "--tenant", "acme", "--reason", "incident 7")
    assert code == 0 and "revoked" in out
    code, out, _ = run("status", "--tenant", "acme")
    assert "revoked" in out and "incident 7" in out
    code, out, _ = run("revoke", "--tenant", "acme", "--reason", "again")
    assert code == 0 and "nothing to do" in out
    code, out, _ = run("restore", "--tenant", "acme", "--grant", "default", "--reason", "resolved")
    assert code == 0 and "restored" in out
    code, out, _ = run("status", "--tenant", "acme")
    assert "active" in out


@pytest.mark.usefixtures("env")
def test_bad_input_is_refused_with_the_reason() -> None:
    code, _, err = run("connect", "--tenant", "acme", "--backend", "s3", "--bucket", "b-1", "--region", "eu-west-1")
    assert code == 2 and "role_arn" in err
    code, _, err = run("connect", "--tenant", "acme", "--backend", "local", "--bucket", "data", "--prefix", "../up")
    assert code == 2 and "'..' segment" in err
    code, _, err = run("connect", "--tenant", "nosuch", "--backend", "local", "--bucket", "data")
    assert code == 1 and "no tenant 'nosuch'" in err
    code, _, err = run("revoke", "--tenant", "acme", "--grant", "missing", "--reason", "x")
    assert code == 1 and "no storage grant" in err
