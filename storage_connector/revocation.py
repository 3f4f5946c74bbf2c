"""Is a grant active right now? The database is the truth; Redis carries each grant's status to every
gateway replica so that a revocation takes effect on all of them with the next request.

- A change (revoke, restore, probe) commits to the database first, then overwrites the grant's status key in
  Redis (`publish`), so every replica reading the key sees it at once.
- A reader takes the status from Redis; on a miss it reads the database and fills the key only if it is
  still absent (SET NX), so a reader that raced with a revocation can never write back the older "active".
- Redis unreachable (or not configured): read the database. Database unreachable too: the state is unknown
  and the caller refuses (RevocationStateUnknownError) — never fail open.
- A key lives STATUS_TTL_SECONDS: if a revocation committed while Redis was unreachable for the revoker but
  not for readers, stale "active" answers end after that long (docs/storage-revocation.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage_connector.grants import Grant, GrantStatus
from storage_connector.models import StorageGrantRow

STATUS_TTL_SECONDS = 10
KEY_PREFIX = "enclave:storage:grant-status:"
logger = logging.getLogger(__name__)


class RevocationStateUnknownError(RuntimeError):
    """Neither Redis nor the database could say whether the grant is active; nothing is issued."""


class GrantStates:
    def __init__(self, sessions: sessionmaker[Session], client: redis.Redis | None) -> None:
        self._sessions = sessions
        self._redis = client

    @staticmethod
    def key(grant_id: str) -> str:
        return KEY_PREFIX + grant_id

    def status(self, grant_id: str) -> GrantStatus:
        if self._redis is not None:
            try:
                cached = self._redis.get(self.key(grant_id))
                if isinstance(cached, bytes):
                    return GrantStatus(cached.decode())
            except (redis.RedisError, ValueError) as exc:
                logger.warning("grant status cache unavailable (%s); reading the database", type(exc).__name__)
                return self._from_database(grant_id, fill=False)
        return self._from_database(grant_id, fill=self._redis is not None)

    def _from_database(self, grant_id: str, *, fill: bool) -> GrantStatus:
        try:
            with self._sessions() as session:
                value = session.scalar(select(StorageGrantRow.status).where(StorageGrantRow.id == grant_id))
        except Exception as exc:
            raise RevocationStateUnknownError(
                f"grant status unknown: cache and database unreachable ({type(exc).__name__})"
            ) from None
        if value is None:
            raise RevocationStateUnknownError(f"grant {grant_id} no longer exists")
        status = GrantStatus(value)
        if fill and self._redis is not None:
            with contextlib.suppress(redis.RedisError):  # the database answered; the next reader tries again
                self._redis.set(self.key(grant_id), status.value.encode(), ex=STATUS_TTL_SECONDS, nx=True)
        return status

    def publish(self, grants: Sequence[Grant]) -> bool:
        """Carry committed status changes to every replica. False when Redis could not be told: replicas
        then learn it from the database within STATUS_TTL_SECONDS."""
        if self._redis is None:
            return True
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for grant in grants:
                    pipe.set(self.key(grant.id), grant.status.value.encode(), ex=STATUS_TTL_SECONDS)
                pipe.execute()
            return True
        except redis.RedisError as exc:
            logger.error(
                "grant status fan-out failed (%s); replicas fall back within %d s",
                type(exc).__name__,
                STATUS_TTL_SECONDS,
            )
            return False


def open_grant_states(sessions: sessionmaker[Session], cache_url: str) -> GrantStates:
    """Like enclave.cache.open_cache: no Redis for the embedded memory:// cache (every replica — there is
    one, or several sharing one database file — reads the database)."""
    if cache_url.startswith("memory://"):
        return GrantStates(sessions, None)
    return GrantStates(sessions, redis.Redis.from_url(cache_url, socket_timeout=0.5, socket_connect_timeout=0.5))
