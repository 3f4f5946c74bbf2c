"""The cache's token buckets: the same rule in-process and in Redis, atomic across Redis clients."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from enclave.cache import Cache, CacheUnavailableError, MemoryCache, RateLimit, RedisCache, retry_after_seconds


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    opened: Cache = MemoryCache() if request.param == "memory" else RedisCache("redis://127.0.0.1:6379/0")
    try:
        yield opened
    finally:
        opened.close()


def test_a_bucket_grants_its_capacity_then_says_how_long_to_wait(cache: Cache) -> None:
    key, limit = f"t:{uuid.uuid4().hex}", RateLimit(3, 60)
    assert [cache.take(key, limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = cache.take(key, limit)
    assert 19 < wait <= 20  # one token comes back every 20 s
    assert cache.take(key, limit, cost=0) > 0  # asking takes nothing and is refused too
    assert retry_after_seconds(wait) == 20


def test_a_bucket_refills_over_time(cache: Cache) -> None:
    key, limit = f"t:{uuid.uuid4().hex}", RateLimit(2, 0.2)
    assert cache.take(key, limit) == cache.take(key, limit) == 0.0
    assert cache.take(key, limit) > 0
    time.sleep(0.25)
    assert cache.take(key, limit) == 0.0


def test_add_sets_only_once(cache: Cache) -> None:
    key = f"t:{uuid.uuid4().hex}"
    assert cache.add(key, b"1", 60) is True
    assert cache.add(key, b"2", 60) is False
    assert cache.get(key) == b"1"


def test_redis_buckets_hold_across_clients() -> None:
    """Eight clients (as eight replicas would) race for ten tokens: exactly ten are granted."""
    key, limit = f"t:{uuid.uuid4().hex}", RateLimit(10, 3600)
    clients = [RedisCache("redis://127.0.0.1:6379/0") for _ in range(8)]
    granted: list[float] = []
    lock = threading.Lock()

    def hammer(client: RedisCache) -> None:
        for _ in range(5):
            wait = client.take(key, limit)
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=hammer, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert sum(1 for wait in granted if wait == 0) == 10


def test_an_unreachable_redis_is_reported_not_guessed() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    with pytest.raises(CacheUnavailableError):
        cache.take("k", RateLimit(1, 1))
    with pytest.raises(ValueError, match="capacity"):
        RateLimit(0, 1)
