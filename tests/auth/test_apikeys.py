"""API keys in auth/: names by full match, lifetimes bound by the parent, revocation cascading to children,
one client message whatever the reason, and the parent column from migration 0002 on SQLite and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from audit.events import SYSTEM_ACTOR
from auth.apikeys import (
    ApiKeyConflictError,
    ApiKeyError,
    ApiKeyNotFoundError,
    AuthenticationError,
    check_api_key,
    create_api_key,
    revoke_api_key,
)
from auth.roles import Role
from enclave.db import transaction
from enclave.runtime import Runtime
from tenancy.errors import ErrorKind

YEAR = timedelta(days=365)


def _create(
    runtime: Runtime, ttl: timedelta = timedelta(days=30), parent_id: str | None = None, name: str = "k"
) -> tuple[str, str]:
    with transaction(runtime.sessions) as session:
        issued = create_api_key(
            session,
            runtime.audit,
            SYSTEM_ACTOR,
            tenant_id="acme",
            role=Role.ADMIN,
            name=name,
            ttl=ttl,
            max_ttl=YEAR,
            parent_id=parent_id,
        )
    return issued.key.id, issued.secret


def test_the_parent_column_is_migrated(runtime: Runtime) -> None:
    columns = {column["name"] for column in inspect(runtime.engine).get_columns("api_keys")}
    assert "parent_id" in columns


@pytest.mark.parametrize("name", ["trailing\n", "\nleading", "x" * 101, "", "tab\t"])
def test_names_are_matched_in_full(runtime: Runtime, name: str) -> None:
    with pytest.raises(ApiKeyError, match="key name"):
        _create(runtime, name=name)


def test_a_child_may_not_outlive_its_parent(runtime: Runtime) -> None:
    parent, _ = _create(runtime, ttl=timedelta(days=1))
    with pytest.raises(ApiKeyError, match="remaining lifetime"):
        _create(runtime, ttl=timedelta(days=2), parent_id=parent)
    child, _ = _create(runtime, ttl=timedelta(hours=23), parent_id=parent)
    assert child


def test_revoking_a_parent_revokes_its_descendants_and_audits_each(runtime: Runtime) -> None:
    root, _ = _create(runtime)
    child, child_secret = _create(runtime, ttl=timedelta(days=7), parent_id=root)
    grandchild, grandchild_secret = _create(runtime, ttl=timedelta(days=1), parent_id=child)
    sibling, sibling_secret = _create(runtime)
    with transaction(runtime.sessions) as session:
        revoke_api_key(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", key_id=root)
    for secret in (child_secret, grandchild_secret):
        with runtime.sessions() as session, pytest.raises(AuthenticationError) as refused:
            check_api_key(session, secret)
        assert refused.value.reason == "revoked"
    with runtime.sessions() as session:
        assert check_api_key(session, sibling_secret).id == sibling
    from audit.store.reader import EventFilter, query_events

    with runtime.sessions() as session:
        records = query_events(session, "acme", EventFilter(action="auth.apikey.revoked"), limit=10)
    assert len(records) == 3 and grandchild in records[-1].body.decode()


def test_revocation_errors_have_their_kinds(runtime: Runtime) -> None:
    key, _ = _create(runtime)
    with transaction(runtime.sessions) as session:
        revoke_api_key(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", key_id=key)
    with transaction(runtime.sessions) as session, pytest.raises(ApiKeyConflictError) as conflict:
        revoke_api_key(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", key_id=key)
    assert conflict.value.kind is ErrorKind.CONFLICT and isinstance(conflict.value, ApiKeyError)
    pasted = "enc_0123456789ab_" + "S" * 43
    with transaction(runtime.sessions) as session, pytest.raises(ApiKeyNotFoundError) as missing:
        revoke_api_key(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", key_id=pasted)
    assert missing.value.kind is ErrorKind.NOT_FOUND and pasted not in str(missing.value)


def test_refusals_differ_in_reason_but_not_in_message(runtime: Runtime) -> None:
    key, secret = _create(runtime)
    messages: dict[str, str] = {}
    for token in (f"enc_{key}_" + "B" * 43, "enc_0123456789ab_" + "B" * 43, secret + "\n", "enc_x"):
        with runtime.sessions() as session, pytest.raises(AuthenticationError) as refused:
            check_api_key(session, token)
        messages[refused.value.reason] = str(refused.value)
    assert set(messages) == {"wrong secret", "unknown API key", "malformed API key"}
    assert len(set(messages.values())) == 1
