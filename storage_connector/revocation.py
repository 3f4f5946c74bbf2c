"""Is a grant active right now? The database is the truth; Redis carries each grant's status to every
gateway replica so that a revocation takes effect on all of them with the next request.

- The cache is the gateway's shared cache (tenancy/cache.py: Redis with replicas), so storage shares its
  connection pool and timeout with sessions and rate limits.
- A change (revoke, restore, probe) commits to the database first, then overwrites the grant's status key in
  Redis (`publish`), so every replica reading the key sees it at once.
- A reader takes the status from Redis; on a miss it reads the database and fills the key only if it is
  still absent (SET NX), so a reader that raced with a revocation can never write back the older "active".
- Redis unreachable (or only the embedded in-process cache, which other processes cannot see): read the
  database. Database unreachable too: the state is unknown and the caller refuses
  (RevocationStateUnknownError) — never fail open.
- A key lives STATUS_TTL_SECONDS: if a revocation committed while Redis was unreachable for the revoker but
  not for readers, stale "active" answers end after that long (docs/storage-revocation.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage_connector.grants import Grant, GrantStatus
from storage_connector.models import StorageGrantRow
from tenancy.cache import Cache, CacheUnavailableError

STATUS_TTL_SECONDS = 10
KEY_PREFIX = "enclave:storage:grant-status:"
logger = logging.getLogger(__name__)


class RevocationStateUnknownError(RuntimeError):
    """Neither the cache nor the database could say whether the grant is active; nothing is issued."""


class GrantStates:
    """`cache` is the gateway's shared cache (tenancy/cache.py). A cache that only this process sees (the
    embedded gateway's in-process cache) is not used: another process on the same database — the CLI revoking
    a grant — could not reach it, so every status is read from the database."""

    def __init__(self, sessions: sessionmaker[Session], cache: Cache | None) -> None:
        self._sessions = sessions
        self._cache = cache if cache is not None and cache.shared else None

    @staticmethod
    def key(grant_id: str) -> str:
        return KEY_PREFIX + grant_id

    def status(self, grant_id: str) -> GrantStatus:
        if self._cache is not None:
            try:
                cached = self._cache.get(self.key(grant_id))
                if cached is not None:
                    return GrantStatus(cached.decode())
            except (CacheUnavailableError, ValueError) as exc:
                logger.warning("grant status cache unavailable (%s); reading the database", type(exc).__name__)
                return self._from_database(grant_id, fill=False)
        return self._from_database(grant_id, fill=self._cache is not None)

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
        if fill and self._cache is not None:
            # Only if still absent: a reader racing a revocation never writes back the older status. If the
            # cache is unreachable the database has answered; the next reader tries again.
            with contextlib.suppress(CacheUnavailableError):
                self._cache.add(self.key(grant_id), status.value.encode(), STATUS_TTL_SECONDS)
        return status

    def publish(self, grants: Sequence[Grant]) -> bool:
        """Carry committed status changes to every replica. False when the cache could not be told: replicas
        then learn it from the database within STATUS_TTL_SECONDS."""
        if self._cache is None:
            return True
        try:
            for grant in grants:
                self._cache.set(self.key(grant.id), grant.status.value.encode(), STATUS_TTL_SECONDS)
        except CacheUnavailableError as exc:
            logger.error(
                "grant status fan-out failed (%s); replicas fall back within %d s",
                type(exc).__name__,
                STATUS_TTL_SECONDS,
            )
            return False
        return True
