"""Audit log benchmarks. Prints figures and ratios against baselines measured in the same run; asserts
nothing (the machine is small and noisy). Run from the repository root as a module, so that this file does
not shadow the `audit` package: `.venv/bin/python -m benchmarks.audit`.

1. Durable append on MariaDB: group commit vs one transaction per event (target >= 20,000 events/s and
   >= 10x the baseline).
2. Verify of a JSONL export (target >= 200,000 events/s), against the baseline of hashing alone.
3. Export of 1,000,000 events to JSONL from MariaDB (target >= 100,000 events/s) with flat memory
   (peak RSS growth reported), against the baseline of reading the rows alone.
"""

from __future__ import annotations

import argparse
import io
import os
import threading
import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime

import psutil
import pymysql
from sqlalchemy import insert, select

from audit.events import Actor, ActorKind, AuditEvent, ChainedRecord, empty_head, head_after, link
from audit.export.jsonl import ExportHeader, write_jsonl
from audit.signing import generate_private_key_pem, key_id, load_private_key
from audit.store.group_commit import GroupCommitAppender
from audit.store.log import AuditLog, record_row
from audit.store.reader import EXPORT_PAGE, export_items, export_range
from audit.store.tables import audit_heads, audit_records
from audit.verify import verify_export
from enclave.db import create_db_engine, session_factory, transaction, upgrade

KEY = load_private_key(generate_private_key_pem())
ACTOR = Actor(ActorKind.API_KEY, "0123456789ab", ip="10.1.2.3", user_agent="bench/1.0")


def sample_event(i: int, tenant: str = "acme") -> AuditEvent:
    return AuditEvent(
        tenant=tenant,
        actor=ACTOR,
        action="storage.urls.issued",
        target=f"s3://acme-data/tenants/acme/obj-{i}.bin",
        request_id=f"req-{i:012d}",
        details={"count": 8, "method": "GET", "expires_in": 900},
    )


class Database:
    """A throw-away MariaDB database for one benchmark."""

    def __init__(self) -> None:
        self.name = f"enclave_bench_{uuid.uuid4().hex[:8]}"
        self.admin = pymysql.connect(host="127.0.0.1", user="root", password="")
        with self.admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        self.engine = create_db_engine(f"mysql+pymysql://root@127.0.0.1:3306/{self.name}")
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        with self.admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE {self.name}")
        self.admin.close()


def bench_append(per_event_count: int, group_count: int, producers: int) -> None:
    print("\n== durable append on MariaDB ==")
    db = Database()
    try:
        log = AuditLog(KEY, checkpoint_every=1000)
        started = time.perf_counter()
        for i in range(per_event_count):
            with transaction(db.sessions) as session:
                log.append(session, sample_event(i))
        baseline = per_event_count / (time.perf_counter() - started)
        print(f"one transaction per event : {baseline:10,.0f} events/s  ({per_event_count:,} events)")

        appender = GroupCommitAppender(log, db.sessions, max_batch=2000, max_wait_ms=2)
        per_producer = group_count // producers

        def produce(offset: int) -> None:
            futures: list[Future[ChainedRecord]] = []
            for i in range(per_producer):
                futures.append(appender.submit(sample_event(offset + i)))
                if len(futures) >= 4000:  # bounded in-flight window per producer, like request handlers
                    for future in futures:
                        future.result()
                    futures.clear()
            for future in futures:
                future.result()

        threads = [threading.Thread(target=produce, args=(k * per_producer,)) for k in range(producers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        grouped = per_producer * producers / (time.perf_counter() - started)
        appender.close()
        print(f"group commit ({producers} producers): {grouped:10,.0f} events/s  ({per_producer * producers:,} events)")
        print(f"ratio group commit / per-event transaction: {grouped / baseline:.1f}x   (target >= 10x, >= 20,000/s)")
    finally:
        db.close()


def build_export(count: int) -> bytes:
    head = empty_head("acme")
    records = []
    for i in range(count):
        record = link(head, sample_event(i))
        head = head_after(record)
        records.append(record)
    from audit.events import StoredRecord

    out = io.BytesIO()
    header = ExportHeader(
        tenant="acme",
        since=None,
        until=None,
        exported_at=datetime.now(UTC),
        exported_by="bench",
        key_id=key_id(KEY.public_key()),
    )
    write_jsonl(out, header, (StoredRecord(r.seq, r.hash, r.body) for r in records), KEY)
    return out.getvalue()


def bench_verify(count: int) -> None:
    import hashlib

    print("\n== verify a JSONL export ==")
    data = build_export(count)
    lines = data.splitlines(keepends=True)
    started = time.perf_counter()
    for line in lines:
        hashlib.sha256(line).digest()
    hashing = count / (time.perf_counter() - started)
    started = time.perf_counter()
    report = verify_export(iter(lines), KEY.public_key())
    rate = count / (time.perf_counter() - started)
    assert report.ok, report.problems[:3]
    print(f"SHA-256 of each line only (floor): {hashing:12,.0f} lines/s")
    print(f"full verification               : {rate:12,.0f} events/s  ({count:,} events)  (target >= 200,000/s)")
    print(f"ratio verify / hashing alone: {rate / hashing:.2f}")


def bench_export(count: int) -> None:
    print("\n== export from MariaDB ==")
    db = Database()
    try:
        head = empty_head("acme")
        batch: list[dict[str, object]] = []
        load_started = time.perf_counter()
        with db.engine.begin() as connection:
            for i in range(count):
                record = link(head, sample_event(i))
                head = head_after(record)
                batch.append(record_row(record))
                if len(batch) == 5000:
                    connection.execute(insert(audit_records), batch)
                    batch.clear()
            if batch:
                connection.execute(insert(audit_records), batch)
            connection.execute(
                insert(audit_heads),
                [
                    {
                        "tenant_id": "acme",
                        "seq": head.seq,
                        "hash": head.hash,
                        "checkpoint_seq": 0,
                        "checkpoint_at": datetime.now(UTC),
                    }
                ],
            )
        print(f"loaded {count:,} events in {time.perf_counter() - load_started:.1f} s")

        process = psutil.Process(os.getpid())
        started = time.perf_counter()
        r = audit_records.c
        after, rows = 0, 0
        while True:
            with db.sessions() as session:
                page = session.execute(
                    select(r.seq, r.hash, r.body)
                    .where(r.tenant_id == "acme", r.seq > after)
                    .order_by(r.seq)
                    .limit(EXPORT_PAGE)
                ).all()
            if not page:
                break
            rows += len(page)
            after = page[-1][0]
        reading = rows / (time.perf_counter() - started)

        span = export_range(db.sessions, "acme", None, None)
        assert span is not None
        rss_before = process.memory_info().rss
        peak = rss_before
        sink = open(os.devnull, "wb")  # noqa: SIM115

        class Meter(io.RawIOBase):
            written = 0

            def write(self, data: bytes) -> int:  # type: ignore[override]
                nonlocal peak
                self.written += len(data)
                if self.written % (1 << 24) < len(data):
                    peak = max(peak, process.memory_info().rss)
                return sink.write(data)

        header = ExportHeader(
            tenant="acme",
            since=None,
            until=None,
            exported_at=datetime.now(UTC),
            exported_by="bench",
            key_id=key_id(KEY.public_key()),
        )
        meter = Meter()
        started = time.perf_counter()
        summary = write_jsonl(meter, header, export_items(db.sessions, span), KEY)  # type: ignore[arg-type]
        rate = summary.count / (time.perf_counter() - started)
        sink.close()
        print(f"reading rows only (floor): {reading:12,.0f} rows/s")
        print(
            f"JSONL export             : {rate:12,.0f} events/s  "
            f"({summary.count:,} events, {meter.written / 1e6:,.0f} MB)"
        )
        print(f"ratio export / reading rows: {rate / reading:.2f}   (target >= 100,000/s)")
        print(
            f"memory: RSS {rss_before / 1e6:,.0f} MB before, peak {peak / 1e6:,.0f} MB during "
            f"(growth {(peak - rss_before) / 1e6:,.1f} MB)"
        )
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-event", type=int, default=2000, help="events for the per-event-transaction baseline")
    parser.add_argument("--group", type=int, default=100_000, help="events for group commit")
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--verify", type=int, default=300_000, help="events in the verified export")
    parser.add_argument("--export", type=int, default=1_000_000, help="events in the exported log")
    args = parser.parse_args()
    bench_append(args.per_event, args.group, args.producers)
    bench_verify(args.verify)
    bench_export(args.export)


if __name__ == "__main__":
    main()
