"""Browser sessions: idle and absolute timeouts, rotation, revoke one / all, and revocation seen at once by
every replica (two stores sharing the database and the machine's Redis), or by a second process without a
shared cache (the database is read on every lookup)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from audit.events import SYSTEM_ACTOR
from auth.models import User
from auth.roles import Role
from auth.sessions import ActiveSession, SessionError, SessionStore, token_hash
from auth.sso.config import SignInPolicy
from auth.users import create_user, set_role
from enclave.cache import RedisCache
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import audit_rows
from tests.conftest import make_settings

POLICY = SignInPolicy(idle_timeout_seconds=600, absolute_timeout_seconds=3600)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(make_settings(database_url, tmp_path / "data"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def redis_cache() -> Iterator[RedisCache]:
    cache = RedisCache("redis://127.0.0.1:6379/0")
    cache.ping()
    yield cache
    cache.close()


def new_user(runtime: Runtime, email: str = "ann@acme.test") -> User:
    with transaction(runtime.sessions) as session:
        return create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email=email, role=Role.MEMBER)


def open_session(
    runtime: Runtime, store: SessionStore, user: User, replaces: str | None = None
) -> tuple[str, ActiveSession]:
    with transaction(runtime.sessions) as session:
        return store.create(
            session, user, POLICY, provider_id=None, ip="10.0.0.1", user_agent="pytest", replaces=replaces
        )


def test_lookup_returns_the_principal_and_nothing_for_garbage(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    user = new_user(runtime)
    token, active = open_session(runtime, store, user)
    found = store.lookup(token)
    assert found is not None
    assert found.principal().id == user.id
    assert found.principal().role is Role.MEMBER
    assert found.csrf_token == active.csrf_token
    for bad in ("", "x" * 500, token + "x", token[:-1]):
        assert store.lookup(bad) is None
    with runtime.sessions() as session:  # only the hash is stored
        assert session.execute(text("SELECT id FROM user_sessions")).scalar() == token_hash(token)


def test_idle_and_absolute_timeouts(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    token, active = open_session(runtime, store, new_user(runtime))
    now = active.created_at
    assert store.lookup(token, now + timedelta(seconds=599)) is not None  # touches last-seen
    assert store.lookup(token, now + timedelta(seconds=599 + 599)) is not None  # idle measured from the touch
    assert store.lookup(token, now + timedelta(seconds=599 + 599 + 600)) is None  # idle too long
    token2, active2 = open_session(runtime, store, new_user(runtime, "bo@acme.test"))
    moment = active2.created_at
    for step in range(1, 7):  # active every 9 minutes, still ends at the absolute limit
        seen = store.lookup(token2, moment + timedelta(minutes=9 * step))
        assert seen is not None
    assert store.lookup(token2, moment + timedelta(seconds=3600)) is None


def test_rotation_at_login_ends_the_previous_session(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    user = new_user(runtime)
    old, _ = open_session(runtime, store, user)
    new, _ = open_session(runtime, store, user, replaces=old)
    assert store.lookup(old) is None
    assert store.lookup(new) is not None


def test_revoke_one_and_all_are_audited_and_checked_by_tenant(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    user = new_user(runtime)
    (t1, s1), (t2, _), (t3, _) = (open_session(runtime, store, user) for _ in range(3))
    with transaction(runtime.sessions) as session:
        with pytest.raises(SessionError, match="no session"):
            store.revoke(session, runtime.audit, SYSTEM_ACTOR, tenant_id="other", public_id=s1.public_id, reason="x")
        store.revoke(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", public_id=s1.public_id, reason="admin")
    assert store.lookup(t1) is None
    assert store.lookup(t2) is not None
    with transaction(runtime.sessions) as session:
        with pytest.raises(SessionError, match="already ended"):
            store.revoke(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", public_id=s1.public_id, reason="x")
        assert len(store.list_for_user(session, "acme", user.id)) == 2
        assert (
            store.revoke_all(
                session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", user_id=user.id, reason="sign out everywhere"
            )
            == 2
        )
    assert store.lookup(t2) is None
    assert store.lookup(t3) is None


def test_revocation_is_seen_at_once_by_another_replica_through_redis(runtime: Runtime, redis_cache: RedisCache) -> None:
    replica_a = SessionStore(runtime.sessions, redis_cache)
    replica_b = SessionStore(runtime.sessions, RedisCache("redis://127.0.0.1:6379/0"))
    token, active = open_session(runtime, replica_a, new_user(runtime))
    assert replica_b.lookup(token) is not None  # warms b's path: the hot copy now sits in Redis
    assert redis_cache.get(f"enclave:session:{token_hash(token)}") is not None
    with transaction(runtime.sessions) as session:
        replica_a.revoke(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", public_id=active.public_id, reason="admin"
        )
    assert redis_cache.get(f"enclave:session:{token_hash(token)}") == b"revoked"
    assert replica_b.lookup(token) is None


def test_without_a_shared_cache_another_process_revocation_is_seen_at_once(runtime: Runtime) -> None:
    gateway, cli = SessionStore(runtime.sessions), SessionStore(runtime.sessions)
    user = new_user(runtime)
    token, _ = open_session(runtime, gateway, user)
    assert gateway.lookup(token) is not None
    with transaction(runtime.sessions) as session:
        cli.revoke_all(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", user_id=user.id, reason="offboarding")
    assert gateway.lookup(token) is None


def test_role_change_reaches_live_sessions(runtime: Runtime, redis_cache: RedisCache) -> None:
    store = SessionStore(runtime.sessions, redis_cache)
    user = new_user(runtime)
    token, _ = open_session(runtime, store, user)
    found = store.lookup(token)
    assert found is not None
    assert found.role is Role.MEMBER
    with transaction(runtime.sessions) as session:
        loaded = session.get(User, user.id)
        assert loaded is not None
        assert set_role(session, runtime.audit, SYSTEM_ACTOR, loaded, Role.VIEWER, why="test")
        store.refresh_user(session, "acme", user.id)
    found = store.lookup(token)
    assert found is not None
    assert found.role is Role.VIEWER


def test_a_failed_revocation_leaves_the_session_alone(runtime: Runtime) -> None:
    class BrokenCache:
        def get(self, key: str) -> bytes | None:
            return None

        def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
            raise ConnectionError("cache down")

    store = SessionStore(runtime.sessions, BrokenCache())
    _token, active = open_session(runtime, store, new_user(runtime))
    with pytest.raises(ConnectionError), transaction(runtime.sessions) as session:
        store.revoke(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", public_id=active.public_id, reason="x")
    with runtime.sessions() as session:
        rows = session.execute(text("SELECT revoked_at FROM user_sessions")).all()
    assert rows == [(None,)]  # not half-revoked: the caller sees the error and can retry


def test_audit_of_revocations(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    user = new_user(runtime)
    open_session(runtime, store, user)
    with transaction(runtime.sessions) as session:
        store.revoke_all(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", user_id=user.id, reason="offboarding")
    ((outcome, body),) = audit_rows(runtime, "auth.session.revoked")
    record = json.loads(body)
    assert record["reason"] == "offboarding"
    assert record["target"] == f"user:{user.id}"
    assert outcome == "success"


SHORT_IDLE = SignInPolicy(idle_timeout_seconds=60, absolute_timeout_seconds=3600)


def test_idle_time_counts_from_the_last_real_use_not_the_last_recorded_touch(runtime: Runtime) -> None:
    """Last-seen is written at most once a minute; a session used 59 s ago is not idle, whatever was written."""
    store = SessionStore(runtime.sessions)
    with transaction(runtime.sessions) as session:
        token, active = store.create(session, new_user(runtime), SHORT_IDLE, provider_id=None)
    start = active.created_at
    assert store.lookup(token, start + timedelta(seconds=59)) is not None  # a real use, not written (< 1 min)
    assert store.lookup(token, start + timedelta(seconds=118)) is not None  # 59 s after the last use
    assert store.lookup(token, start + timedelta(seconds=177)) is not None  # 59 s after that one
    assert store.lookup(token, start + timedelta(seconds=237)) is None  # 60 s without a use: idle


def test_a_use_seen_by_one_replica_keeps_the_session_alive_on_another(
    runtime: Runtime, redis_cache: RedisCache
) -> None:
    replica_a = SessionStore(runtime.sessions, redis_cache)
    replica_b = SessionStore(runtime.sessions, RedisCache("redis://127.0.0.1:6379/0"))
    with transaction(runtime.sessions) as session:
        token, active = replica_a.create(session, new_user(runtime), SHORT_IDLE, provider_id=None)
    start = active.created_at
    assert replica_a.lookup(token, start + timedelta(seconds=30)) is not None
    assert replica_a.lookup(token, start + timedelta(seconds=59)) is not None  # the last use, on replica A
    assert replica_b.lookup(token, start + timedelta(seconds=118)) is not None  # B learns of it through Redis
    assert replica_b.lookup(token, start + timedelta(seconds=178)) is None
