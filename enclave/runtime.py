"""Everything a running gateway (or a CLI command) shares: settings, database, audit log, cache, keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from audit.events import SYSTEM_ACTOR
from audit.keys import KeyEntry
from audit.otel import OtelRecordEmitter
from audit.signing import generate_private_key_pem, key_id, load_private_key, public_key_pem
from audit.store.group_commit import GroupCommitAppender
from audit.store.key_history import ensure_key_history, previous_keys
from audit.store.log import AuditLog
from auth.sealing import SecretSealer, bind_sealer, generate_secrets_key, parse_secrets_key
from auth.tenants import create_tenant, get_tenant
from enclave.cache import Cache, open_cache
from enclave.db import CONNECTION_ERRORS, create_db_engine, session_factory, transaction, unavailable, upgrade
from enclave.key_files import read_or_create_key_file
from enclave.settings import Mode, Settings
from enclave.telemetry import Telemetry, build_telemetry

SIGNING_KEY_FILE = "audit-signing-key.pem"
SECRETS_KEY_FILE = "secrets.key"
_log = logging.getLogger(__name__)


class NoSigningKeyError(FileNotFoundError):
    """The embedded default has no audit signing key yet (the gateway makes one at its first start)."""


def existing_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The audit signing key from settings or data_dir, never a new one: NoSigningKeyError when there is none."""
    if settings.audit_signing_key is not None:
        return load_private_key(settings.audit_signing_key.get_secret_value())
    path = Path(settings.data_dir) / SIGNING_KEY_FILE
    if not path.is_file():
        raise NoSigningKeyError(
            f"no audit signing key in {path} yet: the gateway makes one at its first start "
            "(`enclave serve` or any command that writes), or set ENCLAVE_AUDIT_SIGNING_KEY"
        )
    return load_private_key(path.read_text())


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The audit signing key from settings; for the embedded default, one generated on first use and kept
    in data_dir (owner-readable only). Production passes ENCLAVE_AUDIT_SIGNING_KEY from a secret store."""
    if settings.audit_signing_key is not None:
        return load_private_key(settings.audit_signing_key.get_secret_value())
    path = Path(settings.data_dir) / SIGNING_KEY_FILE
    return load_private_key(read_or_create_key_file(path, lambda: generate_private_key_pem().encode()).decode())


def load_secret_sealer(settings: Settings) -> SecretSealer:
    """The sealer for stored secrets: ENCLAVE_SECRETS_KEY (and the previous keys of a rotation); for the embedded
    default, a key generated on first use and kept in data_dir (owner-readable only)."""
    if settings.secrets_key is not None:
        current = parse_secrets_key(settings.secrets_key.get_secret_value())
    else:
        path = Path(settings.data_dir) / SECRETS_KEY_FILE
        current = parse_secrets_key(read_or_create_key_file(path, lambda: generate_secrets_key().encode()).decode())
        if not settings.resolved_database_url.startswith("sqlite"):
            _log.warning(
                "ENCLAVE_SECRETS_KEY is not set: stored secrets are sealed with the key in %s; every gateway "
                "sharing this database needs that same key (set ENCLAVE_SECRETS_KEY from a secret store)",
                path,
            )
    return SecretSealer(current, settings.previous_secrets_keys)


def open_engine(settings: Settings, sealer: SecretSealer | None = None) -> Engine:
    """The database engine, with the secrets sealer bound (sealed columns and the migrations need it)."""
    engine = create_db_engine(settings.resolved_database_url)
    bind_sealer(engine, sealer or load_secret_sealer(settings))
    return engine


def record_signing_key(sessions: sessionmaker[Session], signing_key: Ed25519PrivateKey) -> list[KeyEntry]:
    """The key history, started with the configured key on a first start (so verifiers get entry 0). Raises
    KeyHistoryError when the configured key is not the history's newest: a gateway must not sign with a key
    verifiers would refuse. Two gateways starting at once may both try entry 0; the loser reads the winner's."""
    try:
        with transaction(sessions) as session:
            return ensure_key_history(session, signing_key)
    except IntegrityError:  # another gateway recorded entry 0 at the same moment: read it
        with transaction(sessions) as session:
            return ensure_key_history(session, signing_key)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    audit: AuditLog
    appender: GroupCommitAppender
    cache: Cache
    telemetry: Telemetry
    signing_key: Ed25519PrivateKey
    sealer: SecretSealer  # seals stored secrets (bound to `engine` too)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.signing_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.signing_key.public_key())

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Raises DatabaseUnavailableError (one line, no password) when the database cannot be reached."""
        sealer = load_secret_sealer(settings)
        engine = open_engine(settings, sealer)
        try:
            return cls._open(settings, engine, sealer, migrate=migrate)
        except CONNECTION_ERRORS as error:
            engine.dispose()
            raise unavailable(engine, error) from error
        except BaseException:
            engine.dispose()
            raise

    @classmethod
    def _open(cls, settings: Settings, engine: Engine, sealer: SecretSealer, *, migrate: bool) -> Runtime:
        if migrate:
            upgrade(engine)
        sessions = session_factory(engine)
        signing_key = load_signing_key(settings)
        keys = record_signing_key(sessions, signing_key)
        telemetry = build_telemetry(settings)
        audit = AuditLog(
            signing_key,
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_seconds=settings.audit_checkpoint_seconds,
            emitter=OtelRecordEmitter(telemetry.logger_provider),
            previous_keys=previous_keys(keys),
        )
        appender = GroupCommitAppender(
            audit,
            sessions,
            max_batch=settings.audit_group_commit_max_batch,
            max_wait_ms=settings.audit_group_commit_max_wait_ms,
        )
        runtime = cls(
            settings, engine, sessions, audit, appender, open_cache(settings.cache_url), telemetry, signing_key, sealer
        )
        if settings.mode is Mode.DEDICATED and settings.tenant is not None:
            try:
                runtime.ensure_tenant(settings.tenant)
            except BaseException:
                runtime.close()
                raise
        return runtime

    def ensure_tenant(self, tenant_id: str) -> None:
        """Dedicated mode: the configured tenant exists from the first start."""
        with transaction(self.sessions) as session:
            if get_tenant(session, tenant_id) is None:
                create_tenant(session, self.audit, SYSTEM_ACTOR, tenant_id)

    def close(self) -> None:
        self.appender.close()
        self.cache.close()
        self.telemetry.shutdown()
        self.engine.dispose()
