"""The gateway's shared cache as the runtime packages see it: a small protocol, so that `auth/` (sessions),
`storage_connector/` (grant status) and the gateway's rate limits share one cache — one connection pool, one
timeout — without importing the gateway. The implementations (in-process memory, Redis) live in
`enclave/cache.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tenancy.errors import UnavailableError


class CacheUnavailableError(UnavailableError):
    """The cache cannot be reached; callers that depend on it refuse (fail closed) or fall back to the
    database, never to a guess."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: up to `capacity` takes at once, refilled evenly over `per_seconds`."""

    capacity: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs capacity >= 1 and per_seconds > 0")

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.per_seconds


class Cache(Protocol):
    """Every method raises CacheUnavailableError when the cache cannot be reached."""

    @property
    def shared(self) -> bool:
        """Whether every gateway process sees the same entries (Redis), or only this process does (the
        in-process cache of an embedded gateway): state other processes change must not be cached in an
        unshared cache."""
        ...

    def ping(self) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        """Set `key` only if it is absent; whether it was set (one winner across replicas)."""
        ...

    def take(self, key: str, limit: RateLimit, cost: int = 1) -> float:
        """Take `cost` tokens from the bucket `key`: 0.0 when granted, otherwise the seconds until it could
        be (nothing is taken then). `cost=0` only asks whether one token is available."""
        ...

    def increment(self, key: str, field: str, ttl_seconds: int) -> int:
        """Add one to the counter `field` of the counters `key` (which live `ttl_seconds`); its new value."""
        ...

    def counters(self, key: str) -> dict[str, int]:
        """Every counter of `key` (empty when there are none)."""
        ...

    def close(self) -> None: ...
