"""The MySQL bulk INSERT (hex literals, built once per batch) stores exactly what SQLAlchemy's executemany stores,
on random input chosen to break quoting: quotes, backslashes, NUL, percent signs, 4-byte characters, bodies of
every size."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from audit.actions import ACTIONS
from audit.events import Actor, ActorKind, AuditEvent, ChainedRecord, Outcome, empty_head, head_after, link
from audit.store.bulk_insert import MAX_STATEMENT_BYTES, insert_records, mysql_values, record_row
from audit.store.tables import audit_records
from enclave.db import create_db_engine, upgrade

NASTY = ["'", '"', "\\", "\x00", "%", "%s", "\n", "\r", "é", "\U0001d518", "🙂", "\u2028", ";", "--", "/*"]
NASTY += ["_utf8mb4", "X'", "\\'", "0x"]


def random_text(rng: random.Random, limit: int) -> str:
    pieces = [rng.choice(NASTY) if rng.random() < 0.5 else chr(rng.randint(32, 0x2FFF)) for _ in range(limit)]
    return "".join(pieces)[:limit]


def random_records(count: int, seed: int) -> list[ChainedRecord]:
    rng = random.Random(seed)
    head = empty_head("acme")
    records = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(count):
        event = AuditEvent(
            tenant="acme",
            actor=Actor(rng.choice(list(ActorKind)), random_text(rng, rng.randint(1, 200)) or "x"),
            action=rng.choice(sorted(ACTIONS)),
            outcome=rng.choice(list(Outcome)),
            target=random_text(rng, rng.randint(0, 300)),
            details={"blob": random_text(rng, rng.randint(0, 2000)), "n": index},
        )
        record = link(head, event, moment + timedelta(microseconds=rng.randint(0, 10**9)))
        head = head_after(record)
        records.append(record)
    return records


@pytest.fixture
def engine(mariadb_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(mariadb_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _rows(engine, tenant: str) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    r = audit_records.c
    columns = (r.seq, r.time, r.action, r.actor_id, r.outcome, r.hash, r.body)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).where(r.tenant_id == tenant).order_by(r.seq))]


def test_bulk_insert_stores_what_sqlalchemy_stores(engine) -> None:  # type: ignore[no-untyped-def]
    records = random_records(400, seed=16)
    with engine.begin() as connection:
        insert_records(connection, records)
    expected = [{**record_row(record), "tenant_id": "globex"} for record in records]
    with engine.begin() as connection:
        connection.execute(insert(audit_records), expected)
    fast, library = _rows(engine, "acme"), _rows(engine, "globex")
    assert len(fast) == 400
    assert fast == library


def test_large_batches_are_split_under_the_packet_limit(engine) -> None:  # type: ignore[no-untyped-def]
    records = random_records(60, seed=3)
    statement = sum(len(row) + 1 for row in mysql_values(records))
    assert statement < MAX_STATEMENT_BYTES  # so force a split with a big body
    big = random_records(3000, seed=4)
    assert sum(len(row) + 1 for row in mysql_values(big)) > MAX_STATEMENT_BYTES
    with engine.begin() as connection:
        insert_records(connection, big)
    assert len(_rows(engine, "acme")) == 3000


def test_values_that_are_not_plain_are_refused() -> None:
    record = random_records(1, seed=1)[0]
    forged = ChainedRecord(
        record.tenant, record.seq, record.prev_hash, "'; DROP TABLE x; --", record.body, record.event, record.time
    )
    with pytest.raises(ValueError, match="malformed hash"):
        mysql_values([forged])
