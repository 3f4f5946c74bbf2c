"""Settings: embedded defaults, environment, TOML file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from enclave.settings import Mode, Settings


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


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_OPERATOR_TOKEN", "op-secret-value-123")
    settings = Settings()
    assert "op-secret-value-123" not in repr(settings)
    assert settings.operator_token is not None
    assert settings.operator_token.get_secret_value() == "op-secret-value-123"


def test_api_key_lifetime_defaults_and_limit() -> None:
    from datetime import timedelta

    settings = Settings(apikey_default_ttl_days=30, apikey_max_ttl_days=90)
    assert settings.apikey_lifetime(None) == (timedelta(days=30), timedelta(days=90))
    assert settings.apikey_lifetime(7) == (timedelta(days=7), timedelta(days=90))
