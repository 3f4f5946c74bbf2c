"""Settings: embedded defaults, environment, TOML file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from enclave.settings import Mode, Settings, UnknownSettingError


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENCLAVE_DATABASE_URL", "ENCLAVE_TENANT", "ENCLAVE_CONFIG", "ENCLAVE_MODE", "ENCLAVE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.mode is Mode.DEDICATED and settings.tenant == "default"
    assert settings.resolved_database_url == "sqlite:///.enclave/enclave.db"
    assert settings.cache_url == "memory://"


def test_environment_and_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "enclave.toml"
    config.write_text('mode = "shared"\ncache_url = "redis://127.0.0.1:6379/0"\naudit_checkpoint_every = 50\n')
    monkeypatch.setenv("ENCLAVE_CONFIG", str(config))
    monkeypatch.setenv("ENCLAVE_AUDIT_CHECKPOINT_EVERY", "7")  # the environment wins over the file
    monkeypatch.delenv("ENCLAVE_TENANT", raising=False)
    settings = Settings()
    assert settings.mode is Mode.SHARED and settings.tenant is None
    assert settings.cache_url.startswith("redis://")
    assert settings.audit_checkpoint_every == 7


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tenant": "Bad Tenant"}, "not a valid tenant name"),
        ({"mode": "shared", "tenant": "acme"}, "only for dedicated mode"),
        ({"cache_url": "memcached://x"}, "cache_url must be"),
        ({"otel_exporter": "otlp"}, "needs otel_endpoint"),
        ({"audit_checkpoint_every": 0}, "greater than or equal to 1"),
        ({"log_level": "LOUD"}, "String should match"),
        ({"tls_cert_file": "/etc/hostname"}, "set both or neither"),
        ({"tls_cert_file": "/nonexistent.pem", "tls_key_file": "/nonexistent.key"}, "does not exist"),
    ],
)
def test_invalid_settings_say_what_is_wrong(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)  # type: ignore[arg-type]


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENCLAVE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        Settings()


STRONG_TOKEN = "Vq3x9K_pL2m-Zr8TgW4yNc6BhJ0sEuD1aFiO7kQ"


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_OPERATOR_TOKEN", STRONG_TOKEN)
    settings = Settings()
    assert STRONG_TOKEN not in repr(settings)
    assert settings.operator_token is not None
    assert settings.operator_token.get_secret_value() == STRONG_TOKEN


def test_validation_errors_never_print_the_values_they_were_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic prints the whole input by default, which holds the operator token and signing key."""
    monkeypatch.setenv("ENCLAVE_OPERATOR_TOKEN", STRONG_TOKEN)
    with pytest.raises(ValidationError) as raised:
        Settings(mode="shared", tenant="acme")  # type: ignore[arg-type]
    assert STRONG_TOKEN[:5] not in str(raised.value)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "at least 32 characters"),
        (" ", "white space"),
        ("a", "at least 32 characters"),
        ("op-" + "x" * 40, "too predictable"),
        ("abab" * 10, "too predictable"),
        ("0123456789" * 4, "too predictable"),
        (STRONG_TOKEN + " ", "white space"),
    ],
)
def test_weak_operator_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        Settings(operator_token=token)  # type: ignore[arg-type]
    if len(token.strip()) >= 8:
        assert token.strip() not in str(raised.value)


def test_generated_tokens_are_accepted() -> None:
    import secrets

    for _ in range(200):
        Settings(operator_token=secrets.token_urlsafe(32))  # type: ignore[arg-type]
        Settings(operator_token=secrets.token_hex(24))  # type: ignore[arg-type]


def test_unknown_enclave_variables_are_refused_with_the_nearest_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_DATABSE_URL", "sqlite:///x.db")
    with pytest.raises(UnknownSettingError, match=r"ENCLAVE_DATABSE_URL \(did you mean ENCLAVE_DATABASE_URL\?\)"):
        Settings()
    monkeypatch.setenv("ENCLAVE_WHATEVER_THIS_IS", "1")
    with pytest.raises(UnknownSettingError, match="unknown settings in the environment: ENCLAVE_DATABSE_URL"):
        Settings()


def test_the_cli_says_which_variable_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from enclave.cli.main import app

    monkeypatch.setenv("ENCLAVE_LOGLEVEL", "DEBUG")
    result = CliRunner().invoke(app, ["tenant", "list"])
    assert result.exit_code == 1
    assert "ENCLAVE_LOGLEVEL" in result.output and "ENCLAVE_LOG_LEVEL" in result.output


def test_api_key_lifetime_defaults_and_limit() -> None:
    from datetime import timedelta

    settings = Settings(apikey_default_ttl_days=30, apikey_max_ttl_days=90)
    assert settings.apikey_lifetime(None) == (timedelta(days=30), timedelta(days=90))
    assert settings.apikey_lifetime(7) == (timedelta(days=7), timedelta(days=90))
