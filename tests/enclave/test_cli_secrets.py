"""`enclave secrets keygen | check | reseal` as an operator rotates the key that seals stored secrets: check
counts values per key and exits 1 while any is unreadable; reseal moves everything to the new key (audited) so
the old key can go; nothing prints a secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from typer.testing import CliRunner

from auth.sealing import generate_secrets_key, parse_secrets_key, secrets_key_id
from enclave.cli.main import app

runner = CliRunner()
CLIENT_SECRET = "cli-client-secret-never-printed-0042"


def env(data: Path, key: str, previous: str | None = None) -> dict[str, str]:
    values = {"ENCLAVE_DATA_DIR": str(data), "ENCLAVE_TENANT": "acme", "ENCLAVE_SECRETS_KEY": key}
    values |= {"ENCLAVE_SECRETS_PREVIOUS_KEYS": previous} if previous else {}
    return values | {"DEMO_SECRET": CLIENT_SECRET}


def check(environment: dict[str, str]) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["secrets", "check", "--json"], env=environment)
    return result.exit_code, json.loads(result.stdout)


def test_keygen_prints_a_fresh_key() -> None:
    first, second = (runner.invoke(app, ["secrets", "keygen"]).stdout.strip() for _ in range(2))
    assert len(parse_secrets_key(first)) == 32 and first != second


def test_a_rotation_from_check_to_reseal(tmp_path: Path) -> None:
    old, new = generate_secrets_key(), generate_secrets_key()
    old_id, new_id = (secrets_key_id(base64.b64decode(k)) for k in (old, new))
    args = ["sso", "add", "corp", "--tenant", "acme", "--kind", "oidc", "--issuer", "https://idp.acme.test"]
    added = runner.invoke(
        app, [*args, "--client-id", "e", "--client-secret-env", "DEMO_SECRET"], env=env(tmp_path, old)
    )
    assert added.exit_code == 0, added.output
    assert check(env(tmp_path, old)) == (
        0,
        {
            "current_key": old_id,
            "columns": [
                {"column": "sso_providers.client_secret", "by_key": {old_id: 1}, "unknown_keys": [], "unreadable": 0},
                {"column": "user_sessions.idp_token", "by_key": {}, "unknown_keys": [], "unreadable": 0},
            ],
            "unreadable": 0,
        },
    )
    code, report = check(env(tmp_path, new))  # the key changed without the old one: unreadable, exit 1
    assert code == 1 and report["unreadable"] == 1
    table = runner.invoke(app, ["secrets", "check"], env=env(tmp_path, new))
    assert table.exit_code == 1 and "unreadable" in table.stdout and "1 stored value(s) no key opens" in table.stdout

    resealed = runner.invoke(app, ["secrets", "reseal"], env=env(tmp_path, new, previous=old))
    assert resealed.exit_code == 0, resealed.output
    assert "acme: 1 value(s) of sso_providers.client_secret sealed again" in resealed.stdout
    code, report = check(env(tmp_path, new))  # the old key is no longer needed
    assert code == 0 and report["columns"][0]["by_key"] == {new_id: 1}  # type: ignore[index]

    events = runner.invoke(
        app, ["audit", "export", "--tenant", "acme", "--out", str(tmp_path / "log.jsonl")], env=env(tmp_path, new)
    )
    assert events.exit_code == 0, events.output
    log = (tmp_path / "log.jsonl").read_text()
    assert '"action":"secrets.resealed"' in log and CLIENT_SECRET not in log
    for result in (added, table, resealed):
        assert CLIENT_SECRET not in result.output


def test_reseal_names_what_no_key_opens_and_exits_1(tmp_path: Path) -> None:
    old = generate_secrets_key()
    args = ["sso", "add", "corp", "--tenant", "acme", "--kind", "oidc", "--issuer", "https://idp.acme.test"]
    added = runner.invoke(
        app, [*args, "--client-id", "e", "--client-secret-env", "DEMO_SECRET"], env=env(tmp_path, old)
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, ["secrets", "reseal"], env=env(tmp_path, generate_secrets_key()))
    assert result.exit_code == 1
    assert "left as they are (no key this gateway has opens them): 1 of sso_providers.client_secret" in result.output
