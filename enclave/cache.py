"""The cache behind the gateway: in-process for one embedded process, Redis for replicas (fan-out of
revocations and session invalidation builds on it)."""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis


class CacheUnavailableError(RuntimeError):
    """The cache cannot be reached."""


class Cache(Protocol):
    def ping(self) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    def close(self) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def ping(self) -> None:
        return None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return item[1]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_seconds, value)

    def close(self) -> None:
        self._items.clear()


class RedisCache:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise CacheUnavailableError(f"cache unreachable: {type(exc).__name__}") from None

    def get(self, key: str) -> bytes | None:
        value = self._client.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self._client.set(key, value, ex=ttl_seconds)

    def close(self) -> None:
        self._client.close()


def open_cache(url: str) -> Cache:
    return MemoryCache() if url.startswith("memory://") else RedisCache(url)
