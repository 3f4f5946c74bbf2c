"""`enclave sso ...` and `enclave users ...` on the embedded default, with Keycloak as the recording fake of
its Admin REST API: configuration, provisioning, invitations and offboarding, and clear errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auth.models import ApiKey, User
from auth.sessions import SessionStore
from auth.sso.config import SignInPolicy
from auth.sso.registry import list_providers
from auth.users import find_user_by_email
from enclave.cli.main import app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Settings
from tests.auth.sso.keycloak_fake import ADMIN_CLIENT, FakeKeycloak, fake_keycloak

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), "ENCLAVE_TENANT": "acme"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ENCLAVE_DATABASE_URL", raising=False)
    return values


@pytest.fixture
def keycloak(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKeycloak]:
    with fake_keycloak() as fake:
        monkeypatch.setenv("ENCLAVE_KEYCLOAK_URL", fake.base)
        monkeypatch.setenv("ENCLAVE_KEYCLOAK_ADMIN_CLIENT_ID", ADMIN_CLIENT[0])
        monkeypatch.setenv("ENCLAVE_KEYCLOAK_ADMIN_CLIENT_SECRET", ADMIN_CLIENT[1])
        monkeypatch.setenv("ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS", "true")  # the fake is plain-http loopback
        yield fake


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_add_list_remove_providers(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORP_SECRET", "corp-client-s3cret")
    code, out, err = run(
        "sso",
        "add",
        "corp",
        "--tenant",
        "acme",
        "--kind",
        "oidc",
        "--client-id",
        "enclave",
        "--client-secret-env",
        "CORP_SECRET",
        "--issuer",
        "https://login.acme.test",
    )
    assert code == 0, err
    code, out, _ = run("sso", "list", "--tenant", "acme")
    assert "corp" in out and "https://login.acme.test" in out and "invite-only" in out
    assert "corp-client-s3cret" not in out
    code, _, err = run(
        "sso", "add", "corp", "--tenant", "acme", "--kind", "oidc", "--client-id", "x", "--issuer", "https://a.test"
    )
    assert code == 1 and "already has a provider named 'corp'" in err
    code, _, _ = run("sso", "remove", "corp", "--tenant", "acme")
    assert code == 0
    code, _, err = run("sso", "remove", "corp", "--tenant", "acme")
    assert code == 1 and "no provider named 'corp'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "oidc", "--client-id", "x"], "needs its issuer"),
        (["--kind", "oidc", "--client-id", "x", "--issuer", "http://idp.example.com"], "must be an https URL"),
        (
            ["--kind", "oidc", "--client-id", "x", "--issuer", "http://127.0.0.1:8080/realms/acme"],
            "ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS=true",
        ),
        (
            [
                "--kind",
                "github",
                "--client-id",
                "x",
                "--client-secret-env",
                "CORP_SECRET",
                "--api-url",
                "http://localhost",
            ],
            "api_url http://localhost uses plain HTTP",
        ),
        (["--kind", "github", "--client-id", "x"], "client secret"),
        (["--kind", "microsoft", "--client-id", "x", "--directory", "common"], "allowed_tenant_ids"),
        (["--kind", "google", "--client-id", "x", "--required-org", "acme"], "do not apply"),
        (
            ["--kind", "oidc", "--client-id", "x", "--issuer", "https://a.test", "--client-secret-env", "NOPE_UNSET"],
            "NOPE_UNSET",
        ),
    ],
)
def test_bad_provider_input_is_refused_clearly(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("CORP_SECRET", "corp-client-s3cret")
    code, _, err = run("sso", "add", "corp", "--tenant", "acme", *args)
    assert code == 2
    assert message in err


def test_policy(env: dict[str, str]) -> None:
    code, _, err = run(
        "sso",
        "policy",
        "--tenant",
        "acme",
        "--domain",
        "acme.test",
        "--jit",
        "--role-claim",
        "groups",
        "--map",
        "admins=admin",
        "--idle-minutes",
        "15",
        "--absolute-hours",
        "8",
    )
    assert code == 0, err
    code, out, _ = run("sso", "list", "--tenant", "acme")
    assert "JIT" in out and "acme.test" in out and "idle 15 min" in out
    code, _, err = run("sso", "policy", "--tenant", "acme", "--map", "admins=root")
    assert code == 2 and "unknown role 'root'" in err
    code, _, err = run("sso", "policy", "--tenant", "acme", "--idle-minutes", "600", "--absolute-hours", "1")
    assert code == 0, err
    code, out, _ = run("sso", "list", "--tenant", "acme")
    assert "idle 60 min" in out  # an idle limit past the absolute one is the absolute one
    code, _, err = run("sso", "policy", "--tenant", "acme", "--idle-minutes", "0")
    assert code == 2 and "greater than or equal to 60" in err


@pytest.mark.parametrize("claim", ["email", "preferred_username", "name", "nickname", "given_name", "login", "Email"])
def test_a_role_claim_the_user_controls_is_refused(env: dict[str, str], claim: str) -> None:
    code, _, err = run("sso", "policy", "--tenant", "acme", "--role-claim", claim, "--map", "ceo@acme.test=admin")
    assert code == 2
    assert f"role_claim {claim!r} is not one the identity provider's administrator controls" in err


def test_a_role_claim_no_provider_releases_is_warned_about(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORP_SECRET", "corp-client-s3cret")
    for args in (
        ["corp", "--kind", "oidc", "--issuer", "https://idp.acme.test"],
        ["gh", "--kind", "github", "--client-secret-env", "CORP_SECRET"],
    ):
        code, _, err = run("sso", "add", *args, "--tenant", "acme", "--client-id", "x")
        assert code == 0, err
    code, out, err = run("sso", "policy", "--tenant", "acme", "--role-claim", "groups", "--map", "admins=admin")
    assert code == 0 and "updated" in out
    assert "provider 'corp' (oidc): the 'groups' scope is not requested" in err
    assert "provider 'gh' (github): GitHub returns no claims Enclave maps to roles" in err


def test_offboarding_ends_sessions_and_keys(env: dict[str, str]) -> None:
    assert run("users", "add", "ann@acme.test", "--tenant", "acme", "--role", "member")[0] == 0
    code, _, err = run("users", "add", "ann@acme.test", "--tenant", "acme")
    assert code == 1 and "already has a user" in err
    runtime = Runtime.open(Settings())
    try:
        store = SessionStore(runtime.sessions)
        with transaction(runtime.sessions) as session:
            user = find_user_by_email(session, "acme", "ann@acme.test")
            assert user is not None
            token, _ = store.create(session, user, SignInPolicy(), provider_id=None)
            session.add(
                ApiKey(
                    id="a1b2c3d4e5f6",
                    tenant_id="acme",
                    name="ann's",
                    role="member",
                    secret_hash="0" * 64,
                    created_by=user.id,
                    created_at=user.created_at,
                    expires_at=user.created_at.replace(year=2100),
                )
            )
        assert store.lookup(token) is not None
        code, _, err = run("users", "offboard", "ann@acme.test", "--tenant", "acme", "--reason", "x" * 501)
        assert code == 2 and "a reason is at most 500 characters" in err  # a bad option value: nothing done
        assert store.lookup(token) is not None
        code, out, err = run("users", "offboard", "ann@acme.test", "--tenant", "acme", "--reason", "left the company")
        assert code == 0, err
        assert "1 session(s) ended, 1 API key(s) revoked" in out
        assert store.lookup(token) is None  # the gateway's store sees the CLI's revocation at once
        with runtime.sessions() as session:
            assert session.get(ApiKey, "a1b2c3d4e5f6").revoked_at is not None  # type: ignore[union-attr]
            assert session.query(User).one().disabled_at is not None
    finally:
        runtime.close()
    code, _, err = run("users", "offboard", "nobody@acme.test", "--tenant", "acme")
    assert code == 1 and "no user nobody@acme.test" in err


def test_keycloak_provision_registers_the_realm_and_offboarding_reaches_keycloak(
    env: dict[str, str], keycloak: FakeKeycloak, tmp_path: Path
) -> None:
    spec = tmp_path / "acme.toml"
    spec.write_text('realm = "acme"\n[client]\nredirect_uris = ["https://acme.example.com/auth/callback"]\n')
    code, out, err = run("sso", "keycloak", "provision", "--tenant", "acme", "--spec", str(spec))
    assert code == 0, err
    assert "created realm acme" in out and "created client enclave-gateway" in out
    code, out, err = run("sso", "keycloak", "provision", "--tenant", "acme", "--spec", str(spec))
    assert code == 0 and "updated realm acme" in out
    runtime = Runtime.open(Settings())
    try:
        with runtime.sessions() as session:
            (row,) = list_providers(session, "acme")
    finally:
        runtime.close()
    assert (row.name, row.kind, row.issuer) == ("keycloak", "keycloak", f"{keycloak.base}/realms/acme")
    assert row.client_secret == next(iter(keycloak.realms["acme"].clients.values()))["secret"]

    keycloak.realms["acme"].users["k1"] = {"id": "k1", "username": "bo", "email": "bo@acme.test", "enabled": True}
    assert run("users", "add", "bo@acme.test", "--tenant", "acme")[0] == 0
    code, out, err = run("users", "offboard", "bo@acme.test", "--tenant", "acme")
    assert code == 0, err
    assert "1 Keycloak account(s) disabled and logged out" in out
    assert keycloak.realms["acme"].users["k1"]["enabled"] is False
    assert keycloak.realms["acme"].logged_out == ["k1"]


def test_keycloak_failure_after_local_offboarding_is_reported(
    env: dict[str, str], keycloak: FakeKeycloak, tmp_path: Path
) -> None:
    spec = tmp_path / "acme.json"
    spec.write_text(
        json.dumps({"realm": "acme", "client": {"redirect_uris": ["https://acme.example.com/auth/callback"]}})
    )
    assert run("sso", "keycloak", "provision", "--tenant", "acme", "--spec", str(spec))[0] == 0
    assert run("users", "add", "cy@acme.test", "--tenant", "acme")[0] == 0
    keycloak.fail_path = r"/users$"
    code, _, err = run("users", "offboard", "cy@acme.test", "--tenant", "acme")
    assert code == 1
    assert "Enclave access is removed" in err and "offboard them again" in err
    code, out, _ = run("users", "list", "--tenant", "acme")
    row = next(line for line in out.splitlines() if "cy@acme.test" in line)
    assert row.split("│")[4].strip() not in ("", "-")  # disabled, with its time


def test_keycloak_provision_needs_admin_settings_and_a_valid_spec(env: dict[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "acme.json"
    spec.write_text("{}")
    code, _, err = run("sso", "keycloak", "provision", "--tenant", "acme", "--spec", str(spec))
    assert code == 1 and "ENCLAVE_KEYCLOAK_URL" in err
