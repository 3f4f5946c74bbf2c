"""Bad input to the `enclave` command line, as a new user types it: every case exits non-zero with a clear
line saying what is wrong (naming the option or the ENCLAVE_* variable), never a traceback, and changes
nothing. 1 is a failure (not found, refused, unreachable), 2 a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with tenant acme (dedicated), one export and a public key."""
    root = tmp_path_factory.mktemp("cli")
    env = {"ENCLAVE_DATA_DIR": str(root / "data"), "ENCLAVE_TENANT": "acme"}
    assert runner.invoke(app, ["apikey", "create", "--tenant", "acme", "--role", "admin"], env=env).exit_code == 0
    export = root / "acme.jsonl"
    assert runner.invoke(app, ["audit", "export", "--tenant", "acme", "--out", str(export)], env=env).exit_code == 0
    (root / "public.pem").write_text(runner.invoke(app, ["audit", "public-key"], env=env).stdout)
    (root / "bad.toml").write_text("mode = [\n")
    (root / "binary.pem").write_bytes(b"\xff\xfe\x00garbage")
    (root / "notes.txt").write_text("not an export\n")
    (root / "folder").mkdir()
    return root


# (arguments, extra environment, exit code, what the message must say); {home} is the fixture's folder
CASES: list[tuple[list[str], dict[str, str], int, str]] = [
    # settings
    (["tenant", "list"], {"ENCLAVE_CONFIG": "{home}/bad.toml"}, 1, "is not valid TOML"),
    (["tenant", "list"], {"ENCLAVE_CONFIG": "{home}/missing.toml"}, 1, "no such file"),
    (["tenant", "list"], {"ENCLAVE_CONFIG": "{home}/folder"}, 1, "no such file"),
    (["tenant", "list"], {"ENCLAVE_AUDIT_SIGNING_KEY": "not-a-key"}, 1, "ENCLAVE_AUDIT_SIGNING_KEY"),
    (["tenant", "list"], {"ENCLAVE_SECRETS_KEY": "not a key"}, 1, "ENCLAVE_SECRETS_KEY: a secrets key is base64"),
    (
        ["tenant", "list"],
        {"ENCLAVE_SECRETS_KEY": "c2hvcnQta2V5LTE2Ynl0ZQ=="},
        1,
        "ENCLAVE_SECRETS_KEY: a secrets key is 32",
    ),
    (
        ["tenant", "list"],
        {"ENCLAVE_SECRETS_PREVIOUS_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=,c2hvcnQ="},
        1,
        "ENCLAVE_SECRETS_PREVIOUS_KEYS: a secrets key is 32",
    ),
    (["tenant", "list"], {"ENCLAVE_DATABASE_URL": "postgresql://db/enclave"}, 1, "ENCLAVE_DATABASE_URL: unsupported"),
    (["tenant", "list"], {"ENCLAVE_DATABASE_URL": "not a url"}, 1, "ENCLAVE_DATABASE_URL"),
    (["tenant", "list"], {"ENCLAVE_MODE": "weird"}, 1, "ENCLAVE_MODE: Input should be 'dedicated' or 'shared'"),
    (["tenant", "list"], {"ENCLAVE_PORT": "eighty"}, 1, "ENCLAVE_PORT"),
    (["tenant", "list"], {"ENCLAVE_CACHE_URL": "memcached://x"}, 1, "ENCLAVE_CACHE_URL"),
    (["tenant", "list"], {"ENCLAVE_TRUSTED_PROXIES": "the load balancer"}, 1, "ENCLAVE_TRUSTED_PROXIES"),
    (["tenant", "list"], {"ENCLAVE_TENNANT": "acme"}, 1, "did you mean ENCLAVE_TENANT"),
    (["tenant", "list"], {"ENCLAVE_TENANT": "Not Valid"}, 1, "ENCLAVE_TENANT"),
    (["tenant", "list"], {"ENCLAVE_MODE": "shared"}, 1, "tenant is only for dedicated mode"),
    (["tenant", "list"], {"ENCLAVE_OPERATOR_TOKEN": "short"}, 1, "ENCLAVE_OPERATOR_TOKEN"),
    (["tenant", "list"], {"ENCLAVE_DATA_DIR": "{home}/notes.txt"}, 1, "ENCLAVE_DATA_DIR"),
    (["tenant", "list"], {"ENCLAVE_LOG_LEVEL": "verbose"}, 1, "ENCLAVE_LOG_LEVEL"),
    (["tenant", "list"], {"ENCLAVE_TLS_CERT_FILE": "{home}/none.pem"}, 1, "tls_cert_file and tls_key_file"),
    # audit
    (["audit", "export", "--tenant", "acme", "--out", "{home}/nowhere/x.jsonl"], {}, 1, "does not exist"),
    (["audit", "export", "--tenant", "acme", "--out", "{home}/folder"], {}, 1, "is a directory"),
    (["audit", "export", "--tenant", "nobody", "--out", "{home}/n.jsonl"], {}, 1, "no tenant 'nobody'"),
    (["audit", "export", "--tenant", "acme", "--out", "{home}/x", "--format", "xml"], {}, 2, "--format must be"),
    (["audit", "export", "--tenant", "acme", "--out", "{home}/x", "--since", "last week"], {}, 2, "ISO 8601"),
    (
        ["audit", "export", "--tenant", "acme", "--out", "{home}/x", "--since", "2026-02-01", "--until", "2026-01-01"],
        {},
        2,
        "--since must be earlier",
    ),
    (["audit", "verify", "{home}/missing.jsonl", "--public-key", "{home}/public.pem"], {}, 1, "no such file"),
    (["audit", "verify", "{home}/folder", "--public-key", "{home}/public.pem"], {}, 1, "no such file"),
    (["audit", "verify", "{home}/acme.jsonl", "--public-key", "{home}/notes.txt"], {}, 1, "public key"),
    (["audit", "verify", "{home}/acme.jsonl", "--public-key", "{home}/binary.pem"], {}, 1, "binary.pem"),
    (["audit", "verify", "{home}/notes.txt", "--public-key", "{home}/public.pem"], {}, 1, "FAILED"),
    (["audit", "prune", "--tenant", "acme", "--before", "soon", "--yes"], {}, 2, "ISO 8601"),
    (["audit", "prune", "--tenant", "nobody", "--before", "2020-01-01", "--yes"], {}, 1, "no tenant 'nobody'"),
    (["audit", "public-key"], {"ENCLAVE_DATA_DIR": "{home}/fresh"}, 1, "no audit signing key"),
    # audit proofs, keys and sync
    (["audit", "prove", "--tenant", "acme"], {}, 2, "give --inclusion SEQ or --consistency OLD_SIZE"),
    (["audit", "prove", "--tenant", "acme", "--inclusion", "1", "--consistency", "1"], {}, 2, "one of them"),
    (["audit", "prove", "--tenant", "acme", "--inclusion", "0"], {}, 2, "--inclusion must be 1 or more"),
    (["audit", "prove", "--tenant", "acme", "--consistency", "-3"], {}, 2, "--consistency must be 1 or more"),
    (["audit", "prove", "--tenant", "acme", "--inclusion", "abc"], {}, 2, "Input should be a valid integer"),
    (["audit", "prove", "--tenant", "acme", "--inclusion", "99999"], {}, 1, "there is no record 99999"),
    (["audit", "prove", "--tenant", "acme", "--consistency", "99999"], {}, 1, "it never had 99999"),
    (["audit", "prove", "--tenant", "nobody", "--inclusion", "1"], {}, 1, "no tenant 'nobody'"),
    (["audit", "verify", "--public-key", "{home}/public.pem"], {}, 2, "give an export FILE or --proof"),
    (["audit", "verify", "--proof", "{home}/missing.json", "--public-key", "{home}/public.pem"], {}, 1, "no such"),
    (["audit", "verify", "--proof", "{home}/notes.txt", "--public-key", "{home}/public.pem"], {}, 1, "not JSON"),
    (["audit", "verify", "--proof", "{home}/acme.jsonl", "--public-key", "{home}/public.pem"], {}, 1, "not JSON"),
    (
        [
            "audit",
            "verify",
            "{home}/acme.jsonl",
            "--previous",
            "{home}/acme.jsonl",
            "--public-key",
            "{home}/public.pem",
        ],
        {},
        2,
        "--previous goes with --proof",
    ),
    (
        ["audit", "verify", "{home}/acme.jsonl", "--consistency", "{home}/x", "--public-key", "{home}/public.pem"],
        {},
        2,
        "--consistency goes with --extends",
    ),
    (
        ["audit", "verify", "{home}/acme.jsonl", "--extends", "{home}/gone.jsonl", "--public-key", "{home}/public.pem"],
        {},
        1,
        "no such file",
    ),
    (
        [
            "audit",
            "verify",
            "{home}/acme.jsonl",
            "--key-history",
            "{home}/notes.txt",
            "--public-key",
            "{home}/public.pem",
        ],
        {},
        1,
        "not JSON",
    ),
    (["audit", "rotate-key", "--new-key-file", "{home}/none.pem", "--at", "2099-01-01"], {}, 1, "no such file"),
    (["audit", "rotate-key", "--new-key-file", "{home}/notes.txt", "--at", "2099-01-01"], {}, 1, "not an Ed25519"),
    (["audit", "rotate-key", "--new-key-file", "{home}/notes.txt", "--at", "soon"], {}, 2, "ISO 8601"),
    (["audit", "rotate-key", "--new-key-file", "{home}/notes.txt", "--at", "2020-01-01"], {}, 2, "in the future"),
    (["audit", "seal", "--tenant", "acme"], {}, 1, "already has a signed tree head"),
    (["audit", "seal", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    (["audit", "sync", "enable", "--tenant", "acme", "--grant", "nope"], {}, 1, "no storage grant 'nope'"),
    (["audit", "sync", "enable", "--tenant", "nobody", "--grant", "default"], {}, 1, "no tenant 'nobody'"),
    (["audit", "sync", "disable", "--tenant", "acme", "--grant", "nope"], {}, 1, "no storage grant 'nope'"),
    (["audit", "sync", "run", "--tenant", "acme", "--grant", "nope"], {}, 1, "no storage grant 'nope'"),
    (["audit", "sync", "status", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    (["audit", "sync", "enable", "--tenant", "acme"], {}, 2, "--grant"),
    (
        ["audit", "verify-bucket", "--tenant", "acme", "--grant", "nope", "--public-key", "{home}/public.pem"],
        {},
        1,
        "no storage grant 'nope'",
    ),
    (
        ["audit", "verify-bucket", "--tenant", "acme", "--grant", "default", "--public-key", "{home}/notes.txt"],
        {},
        1,
        "public key",
    ),
    # API keys and tenants
    (["apikey", "create", "--tenant", "nobody", "--role", "admin"], {}, 1, "no tenant 'nobody'"),
    (["apikey", "create", "--tenant", "acme", "--role", "root"], {}, 2, "'root' is not one of"),
    (["apikey", "create", "--tenant", "acme", "--role", "viewer", "--ttl-days", "0"], {}, 2, "--ttl-days"),
    (["apikey", "create", "--tenant", "acme", "--role", "viewer", "--ttl-days", "99999"], {}, 2, "may not exceed"),
    (["apikey", "create", "--tenant", "acme", "--role", "viewer", "--name", "<script>"], {}, 2, "name"),
    (["apikey", "revoke", "0123456789ab", "--tenant", "acme"], {}, 1, "no such API key"),
    (["apikey", "list", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    (["tenant", "add", "Not Valid"], {}, 2, "lowercase"),
    (["tenant", "add", "globex"], {}, 1, "dedicated to tenant 'acme'"),
    # single sign-on and users
    (["sso", "list", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    (["sso", "add", "corp", "--tenant", "acme", "--kind", "saml", "--client-id", "x"], {}, 2, "'saml' is not one of"),
    (
        ["sso", "add", "corp", "--tenant", "acme", "--kind", "oidc", "--client-id", "x", "--issuer", "http://idp"],
        {},
        2,
        "issuer must be an https URL",
    ),
    (
        [
            "sso",
            "add",
            "corp",
            "--tenant",
            "acme",
            "--kind",
            "github",
            "--client-id",
            "x",
            "--client-secret-env",
            "NOPE",
        ],
        {},
        2,
        "NOPE",
    ),
    (["sso", "remove", "corp", "--tenant", "acme"], {}, 1, "no provider named 'corp'"),
    (["sso", "policy", "--tenant", "acme", "--map", "admins"], {}, 2, "VALUE=ROLE"),
    (["sso", "policy", "--tenant", "acme", "--map", "admins=root"], {}, 2, "unknown role 'root'"),
    (["sso", "policy", "--tenant", "acme", "--domain", "not a domain"], {}, 2, "not a lower-case domain"),
    (["sso", "policy", "--tenant", "acme", "--idle-minutes", "0"], {}, 2, "greater than or equal to 60"),
    (["users", "add", "not-an-email", "--tenant", "acme"], {}, 2, "is not an email address"),
    (["users", "offboard", "ghost@acme.test", "--tenant", "acme"], {}, 1, "has no user ghost@acme.test"),
    (["users", "list", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    # storage
    (["storage", "connect", "--tenant", "acme", "--backend", "ftp", "--bucket", "b"], {}, 2, "backend"),
    (["storage", "connect", "--tenant", "nobody", "--backend", "local", "--bucket", "data"], {}, 1, "no tenant"),
    (["storage", "status", "--tenant", "nobody"], {}, 1, "no tenant 'nobody'"),
    (["storage", "revoke", "--tenant", "acme"], {}, 2, "--reason"),
    (["storage", "restore", "--tenant", "acme", "--grant", "nope", "--reason", "x"], {}, 1, "no storage grant"),
    # the gateway
    (["serve", "--port", "99999"], {}, 2, "--port"),
    (["openapi", "--out", "{home}/nowhere/openapi.json"], {}, 1, "does not exist"),
]


@pytest.mark.parametrize(("args", "env", "code", "says"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(
    home: Path, args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    environment = {"ENCLAVE_DATA_DIR": str(home / "data"), "ENCLAVE_TENANT": "acme"}
    environment.update({name: value.replace("{home}", str(home)) for name, value in env.items()})
    if environment.get("ENCLAVE_MODE") == "shared":
        pass  # ENCLAVE_TENANT stays: the case is the contradiction
    result = runner.invoke(app, [arg.replace("{home}", str(home)) for arg in args], env=environment)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert result.exit_code == code, output
    assert says in output, output
    if code == 1 and "FAILED" not in output:  # our own refusals: exactly one line, on stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_nothing_was_written_by_refused_commands(home: Path) -> None:
    """A refused export on an unknown tenant leaves no audit record anywhere (it was refused first)."""
    env = {"ENCLAVE_DATA_DIR": str(home / "data"), "ENCLAVE_TENANT": "acme", "COLUMNS": "200"}
    runner.invoke(app, ["audit", "export", "--tenant", "nobody", "--out", str(home / "n.jsonl")], env=env)
    assert not (home / "n.jsonl").exists()
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'data' / 'enclave.db'}")
    with engine.connect() as connection:
        tenants = connection.execute(text("SELECT DISTINCT tenant_id FROM audit_records")).scalars().all()
    engine.dispose()
    assert tenants == ["acme"]
