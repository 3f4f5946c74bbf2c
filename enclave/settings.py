"""Gateway settings: `ENCLAVE_*` environment variables, optionally a TOML file named by `ENCLAVE_CONFIG`.

Every setting has an embedded default that runs on one machine with nothing else: SQLite under `./.enclave/`,
an in-process cache, a signing key generated on first use. Production replaces each by configuration.
"""

from __future__ import annotations

import difflib
import math
import os
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from audit.signing import SigningKeyError, load_private_key
from auth.sealing import SecretsKeyError, parse_secrets_key, parse_secrets_keys
from auth.sso.config import ProviderKind
from tenancy.names import check_tenant_name

_ISSUER_REQUIRED = (ProviderKind.OIDC, ProviderKind.KEYCLOAK)

ENV_PREFIX = "ENCLAVE_"
DATABASE_SCHEMES = ("sqlite://", "mysql+pymysql://")
CONFIG_FILE_VARIABLE = "ENCLAVE_CONFIG"
OPERATOR_TOKEN_MIN_LENGTH = 32
OPERATOR_TOKEN_MIN_BITS = 80  # estimated from the token's own character frequencies


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each ENCLAVE_* variable at fault (or the file's key)
    and never repeats a value."""


class UnknownSettingError(SettingsError):
    """An `ENCLAVE_*` environment variable that no setting reads: most likely a typo that would otherwise
    silently leave a default (pydantic-settings ignores unknown variables even with extra="forbid")."""


def refuse_unknown_variables(environ: Mapping[str, str], fields: list[str]) -> None:
    """UnknownSettingError naming every `ENCLAVE_*` variable in `environ` that is not a setting, each with the
    nearest known name."""
    known = {ENV_PREFIX + field.upper() for field in fields} | {CONFIG_FILE_VARIABLE}
    unknown = sorted(name for name in environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)
    suffixes = sorted(name.removeprefix(ENV_PREFIX) for name in known)  # the shared prefix is no likeness
    problems = []
    for name in unknown:
        nearest = difflib.get_close_matches(name.upper().removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.7)
        problems.append(f"{name} (did you mean {ENV_PREFIX}{nearest[0]}?)" if nearest else name)
    if problems:
        raise UnknownSettingError(
            f"unknown setting{'s' if len(problems) > 1 else ''} in the environment: {', '.join(problems)}; "
            "every ENCLAVE_* variable must name a setting (see enclave/settings.py)"
        )


def estimated_entropy_bits(token: str) -> float:
    """Shannon entropy of the token's own characters times its length: a rough upper bound on how guessable
    it is ("aaaa..." scores 0, a repeated short word little, secrets.token_urlsafe(32) about 200)."""
    counts = Counter(token)
    return -sum(n * math.log2(n / len(token)) for n in counts.values())


def _compresses(token: str) -> bool:
    """A random token does not compress; one built from a repeated pattern ("0123456789" * 4) does, even when
    each of its characters is frequent enough to fool the entropy estimate."""
    return len(zlib.compress(token.encode(), 9)) < 0.75 * len(token)


def check_operator_token(token: str) -> None:
    """Refuse a weak operator token; the message never repeats the token."""
    advice = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if any(c.isspace() for c in token):
        raise ValueError(f"operator_token must not contain white space; {advice}")
    if len(token) < OPERATOR_TOKEN_MIN_LENGTH:
        raise ValueError(f"operator_token must be at least {OPERATOR_TOKEN_MIN_LENGTH} characters; {advice}")
    if estimated_entropy_bits(token) < OPERATOR_TOKEN_MIN_BITS or _compresses(token):
        raise ValueError(f"operator_token is too predictable (repeated or few distinct characters); {advice}")


class Mode(StrEnum):
    DEDICATED = "dedicated"  # one customer's own gateway: exactly one tenant, from configuration
    SHARED = "shared"  # one gateway serving many tenants; isolation by code alone


class OtelExporter(StrEnum):
    NONE = "none"
    OTLP = "otlp"
    CONSOLE = "console"


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must never print the values it was given (tokens, keys).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, hide_input_in_errors=True
    )

    mode: Mode = Mode.DEDICATED
    tenant: str | None = Field(None, description="dedicated mode: the tenant this gateway serves")
    data_dir: Path = Field(Path(".enclave"), description="where embedded defaults keep their files")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")
    cache_url: str = Field("memory://", description="memory:// (one process) or redis[s]://host:port/db")
    operator_token: SecretStr | None = Field(None, description="platform-operator bearer token")
    audit_signing_key: SecretStr | None = Field(
        None, description="Ed25519 private key (PEM or base64 seed); default: generated in data_dir"
    )
    secrets_key: SecretStr | None = Field(
        None,
        description="AES-256 key (base64) sealing stored client secrets and refresh tokens; default: generated in "
        "data_dir",
    )
    secrets_previous_keys: SecretStr | None = Field(
        None, description="comma-separated keys that sealed older values (a rotation: `enclave secrets reseal`)"
    )
    audit_checkpoint_every: int = Field(1000, ge=1, le=1_000_000, description="events between checkpoints")
    audit_checkpoint_seconds: float = Field(60.0, gt=0, le=86_400, description="max seconds between them")
    audit_group_commit_max_batch: int = Field(2000, ge=1, le=100_000)
    audit_sync_seconds: float = Field(
        600.0, ge=1, le=86_400, description="interval of the audit log's sync into the customers' buckets"
    )
    audit_group_commit_max_wait_ms: float = Field(2.0, ge=0, le=1000)
    apikey_default_ttl_days: int = Field(90, ge=1, le=365)
    apikey_max_ttl_days: int = Field(365, ge=1, le=3650)
    # storage: the first five are what the tenant stack's workload sets (infra/workload.py)
    storage_cloud: str | None = Field(None, pattern=r"^(aws|gcp|azure)$", description="the stack's cloud")
    storage_mode: str | None = Field(None, pattern=r"^(managed|byob)$", description="managed or customer bucket")
    storage_bucket: str | None = Field(None, max_length=255, description="the stack's data bucket / container")
    storage_platform_identity: str | None = Field(
        None, max_length=500, description="the gateway's own identity (role ARN, service account, principal id)"
    )
    storage_external_id: str | None = Field(None, max_length=1224, description="AWS BYOB: the ExternalId")
    storage_local_dir: Path | None = Field(None, description="the local store's directory; default data_dir/objects")
    storage_local_signing_key: SecretStr | None = Field(
        None, description="HMAC key (base64, >= 32 bytes) for local URLs; default: generated in data_dir"
    )
    storage_local_base_url: str | None = Field(
        None, pattern=r"^https?://[^\s/?#]+$", description="where clients reach this gateway for local URLs"
    )
    storage_local_max_upload_bytes: int = Field(100 * 1024 * 1024, ge=1, le=5 * 1024**3)
    storage_gcs_key_file: Path | None = Field(None, description="GCS service-account JSON key for V4 signing")
    storage_azure_account_key: SecretStr | None = Field(None, description="Azure account key (stored-policy SAS)")
    storage_probe_seconds: float = Field(30.0, ge=1, le=3600, description="interval of the grant access probe")
    # sign-in: public_url and the first four sso_* are what the tenant stack's workload sets (infra/workload.py)
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+$",
        description="the gateway's external origin (redirect URIs derive from it)",
    )
    sso_provider: ProviderKind | None = Field(None, description="the stack's identity-provider kind")
    sso_issuer: str | None = Field(None, pattern=r"^https://[^\s]+$", description="the stack's OIDC issuer")
    sso_client_id: str | None = Field(None, max_length=255, description="the gateway's client id at the provider")
    sso_client_secret: SecretStr | None = Field(None, description="the gateway's client secret at the provider")
    sso_allow_insecure_loopback_issuers: bool = Field(
        False, description="development only: allow identity providers at plain-http loopback URLs"
    )
    keycloak_url: str | None = Field(None, pattern=r"^https?://[^\s?#]+$", description="Keycloak base URL (admin API)")
    keycloak_admin_client_id: str | None = Field(None, max_length=255, description="service-account client")
    keycloak_admin_client_secret: SecretStr | None = Field(None, description="its client secret")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=1 << 30, description="request body cap (413 past it)")
    auth_failures_per_subject: int = Field(10, ge=1, le=10_000, description="failed sign-ins per key id per window")
    auth_failures_per_client: int = Field(50, ge=1, le=100_000, description="failed sign-ins per client address")
    auth_failure_window_seconds: float = Field(60.0, gt=0, le=86_400, description="the failed sign-in window")
    refusals_per_tenant: int = Field(
        100, ge=1, le=1_000_000, description="refusals a tenant's log records one by one per window; past it, counted"
    )
    refusal_window_seconds: float = Field(60.0, gt=0, le=86_400, description="the refusal window (one summary each)")
    sign_in_attempts_per_client: int = Field(
        120, ge=1, le=100_000, description="browser sign-in starts and callbacks per client address per window"
    )
    scim_requests_per_token: int = Field(
        1200, ge=1, le=1_000_000, description="SCIM requests one token may make per window (429 past it)"
    )
    scim_rate_window_seconds: float = Field(60.0, gt=0, le=86_400, description="the SCIM token rate-limit window")
    otel_exporter: OtelExporter = OtelExporter.NONE
    otel_endpoint: str | None = Field(None, description="OTLP/HTTP endpoint, e.g. http://collector:4318")
    service_name: str = "enclave-gateway"
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    tls_cert_file: Path | None = Field(None, description="serve HTTPS with this PEM certificate (chain)")
    tls_key_file: Path | None = Field(None, description="the certificate's PEM private key")
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        (),
        description="comma-separated CIDRs of the load balancers whose X-Forwarded-For is believed; none by "
        "default (anyone else could choose the address audit records and per-address limits see)",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        refuse_unknown_variables(os.environ, list(cls.model_fields))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            if not Path(config_file).is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_VARIABLE}={config_file}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return None if value is None else check_tenant_name(value)

    @field_validator("operator_token")
    @classmethod
    def _operator_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_operator_token(value.get_secret_value())
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        items = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        try:
            return tuple(ip_network(item, strict=True) for item in items)
        except (TypeError, ValueError):
            raise ValueError("give comma-separated network addresses, e.g. 10.0.0.0/16,10.1.0.0/16") from None

    @field_validator("audit_signing_key")
    @classmethod
    def _audit_signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                load_private_key(value.get_secret_value())
            except SigningKeyError as exc:
                raise ValueError(f"{exc} (make one with `enclave audit keygen`)") from None
        return value

    @field_validator("secrets_key")
    @classmethod
    def _secrets_key(cls, value: SecretStr | None) -> SecretStr | None:
        return _checked_keys(value, parse_secrets_key)

    @field_validator("secrets_previous_keys")
    @classmethod
    def _secrets_previous_keys(cls, value: SecretStr | None) -> SecretStr | None:
        return _checked_keys(value, parse_secrets_keys)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(DATABASE_SCHEMES):
            raise ValueError("unsupported database: use mysql+pymysql://user@host:3306/name or sqlite:///path")
        return value

    @field_validator("cache_url")
    @classmethod
    def _cache_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("cache_url must be memory://, redis:// or rediss://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.mode is Mode.DEDICATED and self.tenant is None:
            self.tenant = "default"
        if self.mode is Mode.SHARED and self.tenant is not None:
            raise ValueError("tenant is only for dedicated mode; shared mode serves the tenants in its database")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        if self.otel_exporter is OtelExporter.OTLP and not self.otel_endpoint:
            raise ValueError("otel_exporter=otlp needs otel_endpoint")
        if self.sso_client_id and self.sso_provider in _ISSUER_REQUIRED and not self.sso_issuer:
            raise ValueError(f"sso_provider={self.sso_provider} with sso_client_id needs sso_issuer")
        keycloak = (self.keycloak_url, self.keycloak_admin_client_id, self.keycloak_admin_client_secret)
        if any(v is not None for v in keycloak) and not all(v is not None for v in keycloak):
            raise ValueError("keycloak_url, keycloak_admin_client_id and keycloak_admin_client_secret go together")
        return self

    def apikey_lifetime(self, days: int | None) -> tuple[timedelta, timedelta]:
        """(requested lifetime, longest allowed) for a new API key; the default when none is asked for."""
        return timedelta(days=days or self.apikey_default_ttl_days), timedelta(days=self.apikey_max_ttl_days)

    @property
    def previous_secrets_keys(self) -> list[bytes]:
        return parse_secrets_keys(self.secrets_previous_keys.get_secret_value()) if self.secrets_previous_keys else []

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'enclave.db'}"


def _checked_keys(value: SecretStr | None, parse: Callable[[str], object]) -> SecretStr | None:
    """`value` when `parse` takes it; a ValueError with the parser's reason (never the key) when not."""
    if value is not None:
        try:
            parse(value.get_secret_value())
        except SecretsKeyError as exc:
            raise ValueError(str(exc)) from None
    return value


def _variable(location: tuple[int | str, ...]) -> str:
    """Where a setting came from: its variable, or its key in the ENCLAVE_CONFIG file."""
    field = str(location[0]) if location else ""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if not field:
        return "settings"  # a rule across several settings (the message names them)
    variable = f"{ENV_PREFIX}{field.upper()}"
    if field in Settings.model_fields and (variable in os.environ or not config_file):
        return variable
    return f"{field!r} in {config_file or 'the settings'}"


def settings_error_message(error: ValidationError) -> str:
    """One line naming each variable at fault and why: `ENCLAVE_MODE: Input should be 'dedicated' or 'shared'`
    (pydantic's field names and the values themselves stay out)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{_variable(tuple(item['loc']))}: {message}")
    return "; ".join(problems)


def load_settings() -> Settings:
    """The settings from the environment and ENCLAVE_CONFIG, or SettingsError with one clear line."""
    import tomllib

    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {settings_error_message(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}={config_file} is not valid TOML: {exc}") from None
    except FileNotFoundError as exc:
        raise SettingsError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}: cannot read the file ({type(exc).__name__})") from None
