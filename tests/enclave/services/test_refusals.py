"""Refusals stay within a per-tenant budget of audit records per window: past it they are counted, and one
summary per tenant and window says how many, of which kinds, from which addresses — across replicas too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, Actor, ActorKind, AuditEvent, Outcome
from audit.store.tables import audit_records
from auth.roles import Role
from enclave.app import create_app
from enclave.cache import MemoryCache, RateLimit, RedisCache
from enclave.runtime import Runtime
from enclave.services import Access, Services
from enclave.services.refusals import SUMMARY_ACTION, RefusalRecorder
from storage_connector.backends import parse_spec
from tests.conftest import make_settings
from tests.enclave.api.helpers import bearer, issue_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def records(runtime: Runtime, action: str | None = None) -> list[dict[str, object]]:
    with runtime.sessions() as session:
        bodies = session.execute(select(audit_records.c.body).order_by(audit_records.c.seq)).scalars().all()
    found = [orjson.loads(body) for body in bodies]
    return [r for r in found if action is None or r["action"] == action]


def refusal(tenant: str, ip: str, action: str = "auth.apikey.used.denied") -> AuditEvent:
    return AuditEvent(
        tenant=tenant,
        actor=Actor(ActorKind.API_KEY, "0123456789ab", ip=ip),
        action=action,
        outcome=Outcome.DENIED,
        target="apikey:0123456789ab",
        reason="unknown key",
    )


@pytest.fixture
def sqlite_runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(make_settings(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data"))
    yield runtime
    runtime.close()


def test_a_thousand_addresses_write_a_bounded_number_of_records(sqlite_runtime: Runtime) -> None:
    clock = Clock()
    recorder = RefusalRecorder(MemoryCache(), sqlite_runtime.appender, RateLimit(20, 60), clock=clock)
    for i in range(1000):
        recorder.record(refusal("acme", f"198.51.100.{i % 250}" if i % 2 else f"203.0.113.{i % 250}"))
    assert recorder.summarise_closed_windows() == 0  # the window is still open
    clock.now += 61
    assert recorder.summarise_closed_windows() == 1
    assert recorder.summarise_closed_windows() == 0  # once per window
    one_by_one = records(sqlite_runtime, "auth.apikey.used.denied")
    summaries = records(sqlite_runtime, SUMMARY_ACTION)
    assert len(one_by_one) <= 21 and len(summaries) == 1
    details = summaries[0]["details"]
    assert isinstance(details, dict)
    assert details["refusals_not_recorded"] == 1000 - len(one_by_one)
    assert details["by_action"] == [{"action": "auth.apikey.used.denied", "count": 1000 - len(one_by_one)}]
    assert details["distinct_addresses"] > 100
    assert len(details["top_addresses"]) == 10
    assert summaries[0]["outcome"] == "denied"


def test_each_tenant_has_its_own_budget(sqlite_runtime: Runtime) -> None:
    from audit.events import SYSTEM_ACTOR
    from auth.tenants import create_tenant
    from enclave.db import transaction

    with transaction(sqlite_runtime.sessions) as session:
        create_tenant(session, sqlite_runtime.audit, SYSTEM_ACTOR, "globex")
    recorder = RefusalRecorder(MemoryCache(), sqlite_runtime.appender, RateLimit(5, 60), clock=Clock())
    for _ in range(50):
        recorder.record(refusal("acme", "203.0.113.1"))
    recorder.record(refusal("globex", "203.0.113.1"))
    globex = [r for r in records(sqlite_runtime, "auth.apikey.used.denied") if r["tenant"] == "globex"]
    assert len(globex) == 1  # acme's flood did not spend globex's budget


@pytest.mark.redis
def test_replicas_share_the_budget_and_write_one_summary(sqlite_runtime: Runtime) -> None:
    clock = Clock()
    tenant = "acme"
    prefix_isolation = uuid.uuid4().hex  # a fresh window per run, so runs never share Redis keys
    clock.now += int(prefix_isolation[:6], 16) * 60
    first, second = RedisCache("redis://127.0.0.1:6379/0"), RedisCache("redis://127.0.0.1:6379/0")
    try:
        replicas = [
            RefusalRecorder(cache, sqlite_runtime.appender, RateLimit(10, 60), clock=clock) for cache in (first, second)
        ]
        for i in range(200):
            replicas[i % 2].record(refusal(tenant, f"192.0.2.{i % 7}", "storage.urls.denied"))
        clock.now += 61
        assert sum(r.summarise_closed_windows() for r in replicas) == 1
    finally:
        first.close()
        second.close()
    (summary,) = records(sqlite_runtime, SUMMARY_ACTION)
    assert len(records(sqlite_runtime, "storage.urls.denied")) <= 11
    details = summary["details"]
    assert isinstance(details, dict)
    assert details["by_action"] == [
        {"action": "storage.urls.denied", "count": 200 - len(records(sqlite_runtime, "storage.urls.denied"))}
    ]
    assert details["distinct_addresses"] == 7


def test_a_low_privilege_key_refused_again_and_again_through_the_api(tmp_path: Path) -> None:
    """A valid viewer key asking to write, hundreds of times: a bounded number of `storage.urls.denied`
    records, the rest counted for the window's summary."""
    runtime = Runtime.open(
        make_settings(
            f"sqlite:///{tmp_path / 'enclave.db'}",
            tmp_path / "data",
            refusals_per_tenant=15,
            refusal_window_seconds=3600,  # the budget refills too slowly to matter while the loop runs
        )
    )
    try:
        services = Services.build(runtime)
        admin = services.storage
        admin.connect(Access.operator("acme", SYSTEM_ACTOR), parse_spec({"backend": "local", "bucket": "data"}), "t")
        viewer = bearer(issue_key(runtime, "acme", Role.VIEWER))
        moment = time.time()
        services.refusals.clock = lambda: moment  # one window, however long 300 requests take on a loaded machine
        with TestClient(create_app(services)) as client:
            for _ in range(300):
                response = client.post(
                    "/api/v1/storage/urls", headers=viewer, json={"items": [{"operation": "put", "key": "x"}]}
                )
                assert response.status_code == 403
        denied = records(runtime, "storage.urls.denied")
        assert 1 <= len(denied) <= 16
        closed = moment + services.refusals.window_seconds
        services.refusals.clock = lambda: closed  # the window of those requests has closed
        assert services.refusals.summarise_closed_windows() == 1
        (summary,) = records(runtime, SUMMARY_ACTION)
        assert summary["details"]["by_action"] == [{"action": "storage.urls.denied", "count": 300 - len(denied)}]  # type: ignore[index]
    finally:
        runtime.close()
