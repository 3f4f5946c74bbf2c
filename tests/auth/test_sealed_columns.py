"""Stored secrets at rest, on SQLite and MariaDB: a provider's client secret and a session's refresh token are
sealed in the database (the raw column never holds them); a gateway given another key reads them as absent;
`check` counts values per key without opening them; a rotation (`reseal`) moves every value to the new key
in one audited transaction, and leaves a value no key opens untouched and counted."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from audit.events import SYSTEM_ACTOR, Actor, ActorKind
from audit.store.tables import audit_records
from auth.roles import Role
from auth.sealed_columns import NOT_SEALED, census, reseal
from auth.sealing import PREFIX, secrets_key_id
from auth.sessions import ProviderSignIn, SessionStore, token_hash
from auth.sessions_models import UserSessionRow
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.registry import add_provider, config_of, get_provider
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.conftest import make_settings

CLIENT_SECRET = "client-secret-Q7w-never-in-the-database"
REFRESH_TOKEN = "refresh-token-K2p-never-in-the-database"
OPERATOR = Actor(ActorKind.OPERATOR, "cli:sre")


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@contextmanager
def gateway(database_url: str, data_dir: Path, key: str, previous: str | None = None) -> Iterator[Runtime]:
    runtime = Runtime.open(make_settings(database_url, data_dir, secrets_key=key, secrets_previous_keys=previous))
    try:
        yield runtime
    finally:
        runtime.close()


def store_secrets(runtime: Runtime) -> str:
    """A provider with a client secret and a session holding a refresh token; the session's token."""
    config = ProviderConfig(
        name="corp",
        kind="oidc",  # type: ignore[arg-type]
        issuer="https://idp.acme.test",
        client_id="enclave",
        client_secret=SecretStr(CLIENT_SECRET),
    )
    with transaction(runtime.sessions) as db:
        provider = add_provider(db, runtime.audit, SYSTEM_ACTOR, "acme", config)
        user = create_user(db, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email="ann@acme.test", role=Role.MEMBER)
        token, _ = SessionStore(runtime.sessions).create(
            db, user, SignInPolicy(), signed_in=ProviderSignIn(provider.id, credential=REFRESH_TOKEN)
        )
    return token


def raw(runtime: Runtime) -> tuple[str, str]:
    with runtime.engine.connect() as db:
        secret = db.execute(text("SELECT client_secret FROM sso_providers")).scalar_one()
        refresh = db.execute(text("SELECT idp_token FROM user_sessions")).scalar_one()
    return secret, refresh


def opened(runtime: Runtime, token: str) -> tuple[str | None, str | None]:
    with runtime.sessions() as db:
        provider = get_provider(db, "acme", "corp")
        row = db.get(UserSessionRow, token_hash(token))
        assert provider is not None and row is not None
        secret = config_of(provider).client_secret
        return (secret.get_secret_value() if secret else None), row.idp_token


def test_secrets_are_sealed_in_the_database_and_open_for_the_gateway(database_url: str, tmp_path: Path) -> None:
    key = new_key()
    with gateway(database_url, tmp_path / "data", key) as runtime:
        token = store_secrets(runtime)
        secret, refresh = raw(runtime)
        for value, plain in ((secret, CLIENT_SECRET), (refresh, REFRESH_TOKEN)):
            assert value.startswith(f"{PREFIX}{secrets_key_id(base64.b64decode(key))}:")
            assert plain not in value
        assert opened(runtime, token) == (CLIENT_SECRET, REFRESH_TOKEN)
        with runtime.engine.begin() as db:  # a sealed value moved to another column does not open there
            db.execute(text("UPDATE user_sessions SET idp_token = :v"), {"v": secret})
        assert opened(runtime, token) == (CLIENT_SECRET, None)
        with runtime.sessions() as db:
            dump = b"".join(db.execute(select(audit_records.c.body)).scalars())
        assert CLIENT_SECRET.encode() not in dump and REFRESH_TOKEN.encode() not in dump


def test_another_key_reads_them_as_absent_until_the_old_one_is_given_back(database_url: str, tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    with gateway(database_url, tmp_path / "data", old) as runtime:
        token = store_secrets(runtime)
    with gateway(database_url, tmp_path / "data", new) as runtime:
        assert opened(runtime, token) == (None, None)
        with runtime.sessions() as db:
            columns = {c.column: c for c in census(db, runtime.sealer)}
        old_id = secrets_key_id(base64.b64decode(old))
        assert {name: (c.by_key, c.unknown_keys) for name, c in columns.items()} == {
            "sso_providers.client_secret": ({old_id: 1}, (old_id,)),
            "user_sessions.idp_token": ({old_id: 1}, (old_id,)),
        }
    with gateway(database_url, tmp_path / "data", new, previous=old) as runtime:
        assert opened(runtime, token) == (CLIENT_SECRET, REFRESH_TOKEN)


def test_reseal_moves_every_value_to_the_new_key_in_one_audited_step(database_url: str, tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    with gateway(database_url, tmp_path / "data", old) as runtime:
        token = store_secrets(runtime)
    with gateway(database_url, tmp_path / "data", new, previous=old) as runtime:
        with transaction(runtime.sessions) as db:
            report = reseal(db, runtime.audit, OPERATOR, runtime.sealer)
        assert dict(report.resealed) == {
            ("acme", "sso_providers.client_secret"): 1,
            ("acme", "user_sessions.idp_token"): 1,
        }
        assert not report.unreadable
        new_id = secrets_key_id(base64.b64decode(new))
        assert all(value.startswith(f"{PREFIX}{new_id}:") for value in raw(runtime))
        with transaction(runtime.sessions) as db:
            assert not reseal(db, runtime.audit, OPERATOR, runtime.sealer).resealed  # nothing left to move
        with runtime.sessions() as db:
            bodies = (
                db.execute(select(audit_records.c.body).where(audit_records.c.action == "secrets.resealed"))
                .scalars()
                .all()
            )
        (record,) = [json.loads(body) for body in bodies]
        assert record["tenant"] == "acme" and record["actor"]["id"] == "cli:sre"
        assert record["target"] == f"secrets-key:{new_id}"
        assert record["details"] == {
            "resealed": [
                {"column": "sso_providers.client_secret", "count": 1},
                {"column": "user_sessions.idp_token", "count": 1},
            ],
            "from_key_ids": [secrets_key_id(base64.b64decode(old))],
        }
    with gateway(database_url, tmp_path / "data", new) as runtime:  # the old key is no longer needed
        assert opened(runtime, token) == (CLIENT_SECRET, REFRESH_TOKEN)


def test_reseal_leaves_what_no_key_opens_and_counts_it(database_url: str, tmp_path: Path) -> None:
    with gateway(database_url, tmp_path / "data", new_key()) as runtime:
        store_secrets(runtime)
        with runtime.engine.begin() as db:
            db.execute(text("UPDATE sso_providers SET client_secret = 'typed-in-clear-by-hand'"))
        with runtime.sessions() as db:
            (secret_column,) = [c for c in census(db, runtime.sealer) if c.column == "sso_providers.client_secret"]
        assert secret_column.by_key == {NOT_SEALED: 1} and secret_column.unreadable == 1
        with transaction(runtime.sessions) as db:
            report = reseal(db, runtime.audit, OPERATOR, runtime.sealer)
        assert dict(report.unreadable) == {"sso_providers.client_secret": 1} and not report.resealed
        assert raw(runtime)[0] == "typed-in-clear-by-hand"  # untouched: never sealed as if it were trusted


def test_a_key_generated_beside_a_shared_database_is_warned_about(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Replicas on one MySQL database that each generate a key could not read each other's values."""
    with caplog.at_level(logging.WARNING, logger="enclave.runtime"):
        Runtime.open(make_settings(database_url, tmp_path / "data")).close()
    warned = "ENCLAVE_SECRETS_KEY is not set" in caplog.text
    assert warned == database_url.startswith("mysql")
    key = (tmp_path / "data" / "secrets.key").read_text()
    assert key not in caplog.text
