"""The `enclave` command line on the embedded default (SQLite under a temporary data dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), "ENCLAVE_TENANT": "acme"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ENCLAVE_DATABASE_URL", raising=False)
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_dedicated_gateway_serves_only_its_own_tenant(env: dict[str, str]) -> None:
    code, _, err = run("tenant", "add", "globex")
    assert code == 1 and "dedicated to tenant 'acme'" in err and "ENCLAVE_MODE=shared" in err


def test_tenants_and_api_keys(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_MODE", "shared")
    monkeypatch.delenv("ENCLAVE_TENANT")
    code, out, _ = run("tenant", "add", "acme")
    assert code == 0, out
    code, out, _ = run("tenant", "add", "globex", "--name", "Globex Corp", "--hostname", "globex.example.com")
    assert code == 0, out
    code, out, _ = run("tenant", "list")
    assert "acme" in out and "Globex Corp" in out
    code, _, err = run("tenant", "add", "globex")
    assert code == 1 and "already exists" in err
    code, _, err = run("tenant", "add", "Not Valid")
    assert code == 2 and "lowercase" in err

    code, secret, err = run("apikey", "create", "--tenant", "globex", "--role", "auditor", "--name", "soc")
    assert code == 0 and secret.strip().startswith("enc_") and "shown once" in err
    key_id = secret.strip().split("_")[1]
    code, out, _ = run("apikey", "list", "--tenant", "globex")
    assert key_id in out and "active" in out and secret.strip() not in out
    code, out, _ = run("apikey", "revoke", key_id, "--tenant", "globex")
    assert code == 0
    code, out, _ = run("apikey", "list", "--tenant", "globex")
    assert "revoked" in out
    code, _, err = run("apikey", "revoke", key_id, "--tenant", "acme")
    assert code == 1 and "no such API key" in err
    code, _, err = run("apikey", "create", "--tenant", "nobody", "--role", "admin")
    assert code == 1 and "no tenant 'nobody'" in err
    code, _, _ = run("apikey", "create", "--tenant", "acme", "--role", "superuser")
    assert code == 2


def test_export_verify_and_tamper(env: dict[str, str], tmp_path: Path) -> None:
    assert run("apikey", "create", "--tenant", "acme", "--role", "admin")[0] == 0
    key = tmp_path / "public.pem"
    code, pem, _ = run("audit", "public-key")
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    key.write_text(pem)
    export = tmp_path / "acme.jsonl"
    code, out, _ = run("audit", "export", "--tenant", "acme", "--out", str(export))
    assert code == 0 and "exported" in out
    code, out, _ = run("audit", "verify", str(export), "--public-key", str(key))
    assert code == 0 and "OK" in out

    lines = export.read_bytes().splitlines(keepends=True)
    del lines[2]  # drop one record
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(lines))
    code, _, err = run("audit", "verify", str(tampered), "--public-key", str(key))
    assert code == 1 and "FAILED" in err and "line" in err

    for fmt in ("csv", "ocsf"):
        code, out, _ = run("audit", "export", "--tenant", "acme", "--format", fmt, "--out", str(tmp_path / f"x.{fmt}"))
        assert code == 0, out
    code, _, err = run("audit", "export", "--tenant", "acme", "--format", "xml", "--out", str(tmp_path / "x"))
    assert code == 2 and "--format must be one of" in err
    code, _, err = run("audit", "export", "--tenant", "acme", "--since", "yesterday", "--out", str(tmp_path / "x"))
    assert code == 2 and "ISO 8601" in err
    code, _, err = run("audit", "verify", str(tmp_path / "missing.jsonl"), "--public-key", str(key))
    assert code == 1 and "no such file" in err
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    code, _, err = run("audit", "verify", str(export), "--public-key", str(bad_key))
    assert code == 1


def test_prune_leaves_a_verifiable_log(env: dict[str, str], tmp_path: Path) -> None:
    assert run("apikey", "create", "--tenant", "acme", "--role", "admin")[0] == 0
    code, out, _ = run("audit", "prune", "--tenant", "acme", "--before", "2000-01-01", "--yes")
    assert code == 0 and "nothing removed" in out
    code, _, err = run("audit", "prune", "--tenant", "acme", "--before", "2999-01-01", "--yes")
    assert code == 2 and "future" in err
    code, out, _ = run("audit", "prune", "--tenant", "acme", "--before", "2999-01-01T00:00:00Z", "--yes")
    assert code == 2
    import time
    from datetime import UTC, datetime

    time.sleep(0.01)
    code, out, _ = run("audit", "prune", "--tenant", "acme", "--before", datetime.now(UTC).isoformat(), "--yes")
    assert code == 0 and "signed anchor" in out
    key = tmp_path / "public.pem"
    key.write_text(run("audit", "public-key")[1])
    export = tmp_path / "after.jsonl"
    assert run("audit", "export", "--tenant", "acme", "--out", str(export))[0] == 0
    code, out, _ = run("audit", "verify", str(export), "--public-key", str(key))
    assert code == 0, out


def test_bad_settings_are_reported_clearly(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_CACHE_URL", "memcached://x")
    code, _, err = run("tenant", "list")
    assert code == 1 and "ENCLAVE_CACHE_URL" in err and "cache_url must be" in err
