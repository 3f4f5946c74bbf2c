"""The cache behind the gateway: in-process for one embedded process, Redis for replicas (fan-out of
revocations and session invalidation builds on it), and the token buckets that rate-limit failed sign-ins,
login attempts or signed-URL issuance — atomic in Redis (one Lua script), so a limit holds across replicas.
The protocol the runtime packages program against is tenancy/cache.py; these are its implementations."""

from __future__ import annotations

import math
import threading
import time

import redis

from tenancy.cache import Cache, CacheUnavailableError, RateLimit

__all__ = [
    "Cache",
    "CacheUnavailableError",
    "MemoryCache",
    "RateLimit",
    "RedisCache",
    "open_cache",
    "retry_after_seconds",
]


def _refill(tokens: float, elapsed: float, limit: RateLimit) -> float:
    return min(float(limit.capacity), tokens + max(0.0, elapsed) * limit.refill_per_second)


def _take(tokens: float, limit: RateLimit, cost: int) -> tuple[float, float]:
    """(tokens left, seconds to wait): the one bucket rule both caches apply."""
    need = max(cost, 1)
    if tokens >= need:
        return tokens - cost, 0.0
    return tokens, (need - tokens) / limit.refill_per_second


class MemoryCache:
    """One process's cache (the embedded gateway): nothing in it is seen by another process."""

    shared = False

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)
        self._counters: dict[str, tuple[float, dict[str, int]]] = {}  # key -> (expiry, counters)
        self._lock = threading.Lock()

    def ping(self) -> None:
        return None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key)

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_seconds, value)

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._items[key] = (time.monotonic() + ttl_seconds, value)
            return True

    def take(self, key: str, limit: RateLimit, cost: int = 1) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(limit.capacity), now))
            left, wait = _take(_refill(tokens, now - then, limit), limit, cost)
            self._buckets[key] = (left, now)
            return wait

    def increment(self, key: str, field: str, ttl_seconds: int) -> int:
        now = time.monotonic()
        with self._lock:
            expiry, counters = self._counters.get(key, (0.0, {}))
            if expiry < now:
                counters = {}
            counters[field] = counters.get(field, 0) + 1
            self._counters[key] = (now + ttl_seconds, counters)
            return counters[field]

    def counters(self, key: str) -> dict[str, int]:
        with self._lock:
            expiry, counters = self._counters.get(key, (0.0, {}))
            return dict(counters) if expiry >= time.monotonic() else {}

    def close(self) -> None:
        self._items.clear()
        self._buckets.clear()
        self._counters.clear()


# The same rule as `_take`, run atomically in Redis with Redis's own clock (replicas' clocks may differ).
_TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'time')
local tokens = tonumber(state[1]) or capacity
local last = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local need = math.max(cost, 1)
local wait = 0
if tokens >= need then tokens = tokens - cost else wait = (need - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'time', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""


class RedisCache:
    """Every replica's cache."""

    shared = True

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE_SCRIPT)

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        try:
            self._client.set(key, value, ex=ttl_seconds)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        try:
            return bool(self._client.set(key, value, ex=ttl_seconds, nx=True))
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    def take(self, key: str, limit: RateLimit, cost: int = 1) -> float:
        try:
            wait = self._take(keys=[key], args=[limit.capacity, repr(limit.refill_per_second), cost])
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    def increment(self, key: str, field: str, ttl_seconds: int) -> int:
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, field, 1)
                pipe.expire(key, ttl_seconds)
                value, _ = pipe.execute()
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return int(value)

    def counters(self, key: str) -> dict[str, int]:
        try:
            found = self._client.hgetall(key)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        assert isinstance(found, dict)
        return {(name.decode() if isinstance(name, bytes) else name): int(value) for name, value in found.items()}

    def close(self) -> None:
        self._client.close()


def _unavailable(exc: Exception) -> CacheUnavailableError:
    return CacheUnavailableError(f"cache unreachable: {type(exc).__name__}", retry_after=5)


def retry_after_seconds(wait: float) -> int:
    """A `Retry-After` value (whole seconds, at least 1) for a bucket's wait."""
    return max(1, math.ceil(wait))


def open_cache(url: str) -> Cache:
    return MemoryCache() if url.startswith("memory://") else RedisCache(url)
