"""Revocation state: the database is the truth, Redis carries it to every replica, and when neither can
answer nothing is issued. Real Redis (127.0.0.1:6379) and real databases."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy.orm import sessionmaker

from audit.events import SYSTEM_ACTOR
from auth.roles import Role
from enclave.cache import MemoryCache, RedisCache
from enclave.db import create_db_engine, session_factory
from enclave.runtime import Runtime
from storage_connector.grants import Grant, GrantStatus, revoke_grants
from storage_connector.revocation import GrantStates, RevocationStateUnknownError
from storage_connector.service import BatchItem, Refusal, StorageRefusedError, StorageService
from storage_connector.signer import Operation
from tests.storage_connector.conftest import principal

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
GET = [BatchItem(Operation.GET, "x")]


def _replica(
    runtime: Runtime, storage: StorageService, redis_url: str, sessions: sessionmaker | None = None
) -> StorageService:  # type: ignore[type-arg]
    states = GrantStates(sessions or runtime.sessions, RedisCache(redis_url))
    return StorageService(runtime.sessions, runtime.audit, runtime.appender, states, storage.signers)


def test_a_revocation_on_one_replica_is_refused_by_the_next_request_on_another(
    runtime: Runtime, storage: StorageService, local_grant: Grant, redis_url: str
) -> None:
    first, second = _replica(runtime, storage, redis_url), _replica(runtime, storage, redis_url)
    member = principal(Role.MEMBER)
    assert second.issue(member, local_grant.id, GET).urls  # warms second's status key
    _, told = first.revoke(SYSTEM_ACTOR, "acme", local_grant.id, "customer request")
    assert told
    with pytest.raises(StorageRefusedError) as refused:
        second.issue(member, local_grant.id, GET)
    assert refused.value.refusal is Refusal.REVOKED
    first.restore(SYSTEM_ACTOR, "acme", local_grant.id, "all clear")
    assert second.issue(member, local_grant.id, GET).urls


def test_redis_unreachable_means_the_database_decides(
    runtime: Runtime, storage: StorageService, local_grant: Grant, redis_url: str
) -> None:
    healthy, cut_off = _replica(runtime, storage, redis_url), _replica(runtime, storage, UNREACHABLE_REDIS)
    member = principal(Role.MEMBER)
    assert cut_off.issue(member, local_grant.id, GET).urls
    healthy.revoke(SYSTEM_ACTOR, "acme", local_grant.id, "incident")
    with pytest.raises(StorageRefusedError) as refused:
        cut_off.issue(member, local_grant.id, GET)
    assert refused.value.refusal is Refusal.REVOKED
    # and a revocation made where Redis is unreachable still lands in the truth
    healthy.restore(SYSTEM_ACTOR, "acme", local_grant.id, "ok")
    _, told = cut_off.revoke(SYSTEM_ACTOR, "acme", local_grant.id, "from a cut-off replica")
    assert not told
    assert cut_off.states.status(local_grant.id) is GrantStatus.REVOKED


def test_neither_redis_nor_database_means_no_url(runtime: Runtime, storage: StorageService, local_grant: Grant) -> None:
    dead_database = session_factory(create_db_engine("mysql+pymysql://root@127.0.0.1:1/none"))
    blind = _replica(runtime, storage, UNREACHABLE_REDIS, dead_database)
    with pytest.raises(RevocationStateUnknownError):
        blind.states.status(local_grant.id)
    with pytest.raises(StorageRefusedError) as refused:
        blind.issue(principal(Role.MEMBER), local_grant.id, GET)
    assert refused.value.refusal is Refusal.UNAVAILABLE


def test_a_reader_racing_a_revocation_cannot_write_back_active(
    runtime: Runtime, local_grant: Grant, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    states = GrantStates(runtime.sessions, RedisCache(redis_url))
    client.delete(states.key(local_grant.id))
    # the database still says active (the reader's view) while a revocation has already published
    client.set(states.key(local_grant.id), GrantStatus.REVOKED.value, ex=10)
    assert states._from_database(local_grant.id, fill=True) is GrantStatus.ACTIVE
    assert client.get(states.key(local_grant.id)) == b"revoked"
    assert states.status(local_grant.id) is GrantStatus.REVOKED
    client.delete(states.key(local_grant.id))
    assert states.status(local_grant.id) is GrantStatus.ACTIVE  # a miss reads the truth and fills the key
    assert client.get(states.key(local_grant.id)) == b"active"
    client.close()


def test_the_in_process_cache_is_never_trusted_for_grant_status(runtime: Runtime, local_grant: Grant) -> None:
    """The embedded gateway's memory cache is not seen by another process (the CLI revoking on the same
    database): a status cached there would outlive a revocation made elsewhere, so it is not used."""
    cache = MemoryCache()
    states = GrantStates(runtime.sessions, cache)
    assert states.status(local_grant.id) is GrantStatus.ACTIVE
    assert cache.get(states.key(local_grant.id)) is None
    other_process = GrantStates(runtime.sessions, None)
    with runtime.sessions() as session, session.begin():
        revoke_grants(session, runtime.audit, SYSTEM_ACTOR, "acme", local_grant.id, "from the CLI")
    assert other_process.status(local_grant.id) is GrantStatus.REVOKED
    assert states.status(local_grant.id) is GrantStatus.REVOKED
