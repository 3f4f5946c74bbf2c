"""`enclave scim token create | list | rotate | revoke` and `enclave scim status` on the embedded default: the
secret printed once (stdout alone, or in the JSON document), never listed; exit codes 0 / 1 / 2 as the team's
conventions say; and the token the command prints is what /scim/v2 accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from enclave.app import create_app
from enclave.cli.main import app
from enclave.runtime import Runtime
from enclave.services import Services
from enclave.settings import Settings

runner = CliRunner()
ORIGIN = "https://acme.example.com"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), "ENCLAVE_TENANT": "acme", "ENCLAVE_PUBLIC_URL": ORIGIN}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ENCLAVE_DATABASE_URL", raising=False)
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def scim_status(token: str) -> int:
    runtime = Runtime.open(Settings())
    try:
        with TestClient(create_app(Services.build(runtime)), base_url=ORIGIN) as client:
            return client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code
    finally:
        runtime.close()


def test_create_list_rotate_revoke(env: dict[str, str]) -> None:
    code, out, err = run("scim", "token", "create", "--tenant", "acme", "--name", "okta")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("scim_") and len(out.splitlines()) == 1  # the secret alone on stdout
    token_id = secret.split("_")[1]
    assert f"SCIM token {token_id}" in err and "lasts until revoked" in err and f"{ORIGIN}/scim/v2" in err
    assert scim_status(secret) == 200
    code, out, _ = run("scim", "token", "list", "--tenant", "acme")
    assert code == 0 and token_id in out and "okta" in out and "active" in out and secret not in out
    code, out, _ = run("scim", "token", "list", "--tenant", "acme", "--json")
    (listed,) = json.loads(out)
    assert listed["id"] == token_id and listed["state"] == "active" and "secret" not in listed

    code, out, err = run("scim", "token", "rotate", token_id, "--tenant", "acme", "--overlap-hours", "0", "--json")
    assert code == 0, err
    rotated = json.loads(out)
    assert rotated["secret"].startswith(f"scim_{rotated['id']}_") and rotated["scim_base_url"] == f"{ORIGIN}/scim/v2"
    assert scim_status(secret) == 401 and scim_status(rotated["secret"]) == 200
    code, out, _ = run("scim", "token", "revoke", rotated["id"], "--tenant", "acme")
    assert code == 0 and "revoked" in out
    assert scim_status(rotated["secret"]) == 401
    code, out, _ = run("scim", "token", "list", "--tenant", "acme", "--json")
    assert {t["state"] for t in json.loads(out)} == {"revoked"}

    code, out, _ = run("scim", "status", "--tenant", "acme", "--json")
    assert code == 0
    assert json.loads(out) == {
        "users": 0,
        "enclave_users": 0,
        "groups": 0,
        "last_change": None,
        "active_tokens": 0,
        "scim_base_url": f"{ORIGIN}/scim/v2",
    }
    code, out, _ = run("scim", "status", "--tenant", "acme")
    assert code == 0 and "active tokens" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["scim", "token", "revoke", "ffffffffffff", "--tenant", "acme"], 1, "no such SCIM token"),
        (["scim", "token", "rotate", "ffffffffffff", "--tenant", "acme"], 1, "no such SCIM token"),
        (["scim", "token", "create", "--tenant", "nobody"], 1, "no tenant 'nobody'"),
        (["scim", "token", "create", "--tenant", "acme", "--name", "a/b"], 2, "token name must be"),
        (["scim", "token", "create", "--tenant", "acme", "--ttl-days", "0"], 2, "--ttl-days"),
        (
            ["scim", "token", "rotate", "ffffffffffff", "--tenant", "acme", "--overlap-hours", "500"],
            2,
            "--overlap-hours",
        ),
        (["scim", "token", "list"], 2, "--tenant"),
    ],
)
def test_bad_input_is_one_clear_line(env: dict[str, str], args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert message in result.stderr or message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
