"""Audit log benchmarks. Prints figures and ratios against baselines measured in the same run; asserts
nothing (the machine is small and noisy). Run from the repository root as a module, so that this file does
not shadow the `audit` package: `.venv/bin/python -m benchmarks.audit`.

1. Durable append on MariaDB: group commit vs one transaction per event (target >= 20,000 events/s and
   >= 10x the baseline).
2. Verify of a JSONL export (target >= 200,000 events/s), against the baseline of hashing alone.
3. Export of 1,000,000 events to JSONL from MariaDB (target >= 100,000 events/s) with flat memory, against
   the baseline of reading the rows alone. The export runs in a fresh child process, so its peak RSS shows
   what exporting costs, not what the verify step (or the loading) left behind.

`--driver mysqldb` runs the same code on the C driver (mysqlclient), when it is importable.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

import psutil
import pymysql
from sqlalchemy import insert, select

from audit.checkpoints import Checkpoint, checkpoint_bytes, sign_checkpoint
from audit.events import Actor, ActorKind, AuditEvent, ChainHead, StoredRecord, empty_head, head_after, link
from audit.export.jsonl import ExportHeader, write_jsonl
from audit.merkle import Frontier, leaf_hash
from audit.signing import generate_private_key_pem, key_id, load_private_key
from audit.store.bulk_insert import record_row
from audit.store.group_commit import AppendReceipt, GroupCommitAppender
from audit.store.log import AuditLog
from audit.store.reader import EXPORT_PAGE, export_items, export_range
from audit.store.tables import audit_heads, audit_records
from audit.store.tree import TILE_LEVEL, insert_nodes
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
    """A throw-away MariaDB database for one benchmark, reached through `driver` (pymysql or mysqldb)."""

    def __init__(self, driver: str = "pymysql") -> None:
        self.name = f"enclave_bench_{uuid.uuid4().hex[:8]}"
        self.url = f"mysql+{driver}://root@127.0.0.1:3306/{self.name}"
        self.admin = pymysql.connect(host="127.0.0.1", user="root", password="")
        with self.admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        self.engine = create_db_engine(self.url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        with self.admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE {self.name}")
        self.admin.close()


class ServerMeter:
    """MariaDB's side of a run: server CPU seconds (from /proc, when the server runs on this machine), redo-log
    fsyncs and commits (global status counters, so other databases' traffic counts too)."""

    def __init__(self, admin: pymysql.connections.Connection) -> None:
        self.admin = admin
        self.server = next((p for p in psutil.process_iter(["name"]) if p.info["name"] in ("mariadbd", "mysqld")), None)
        self.start = self.sample()

    def sample(self) -> tuple[float, int, int]:
        times = self.server.cpu_times() if self.server is not None else None
        with self.admin.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_data_fsyncs', 'Com_commit')")
            status = {name: int(value) for name, value in cursor.fetchall()}
        cpu = times.user + times.system if times is not None else 0.0
        return cpu, status.get("Innodb_data_fsyncs", 0), status.get("Com_commit", 0)

    def since_start(self) -> tuple[float, int, int]:
        now = self.sample()
        return now[0] - self.start[0], now[1] - self.start[1], now[2] - self.start[2]


def bench_append(per_event_count: int, group_count: int, producers: int, driver: str, processes: int) -> None:
    print(f"\n== durable append on MariaDB ({driver}) ==")
    db = Database(driver)
    try:
        log = AuditLog(KEY, checkpoint_every=1000)
        started = time.perf_counter()
        for i in range(per_event_count):
            with transaction(db.sessions) as session:
                log.append(session, sample_event(i))
        baseline = per_event_count / (time.perf_counter() - started)
        print(f"one transaction per event : {baseline:10,.0f} events/s  ({per_event_count:,} events)")

        server = ServerMeter(db.admin)
        result = group_commit_run(db.url, "acme", group_count, producers)
        total, grouped = result["events"], result["events"] / result["seconds"]
        server_cpu, fsyncs, commits = server.since_start()
        print(f"group commit ({producers} producers): {grouped:10,.0f} events/s  ({total:,.0f} events)")
        print(f"ratio group commit / per-event transaction: {grouped / baseline:.1f}x   (target >= 10x, >= 20,000/s)")
        print(
            f"CPU per event: this process {result['cpu'] / total * 1e6:.1f} µs (one GIL: ceiling "
            f"{total / result['cpu']:,.0f}/s), MariaDB {server_cpu / total * 1e6:.1f} µs; {commits:,} commits, "
            f"{fsyncs:,} InnoDB fsyncs ({total / max(commits, 1):,.0f} events per commit)"
        )
        if processes > 1:
            # Several gateway processes (replicas), each appending for its own tenant: no shared GIL, and each
            # tenant's chain is serialized only by its own head row.
            tenants = [f"bench{k}" for k in range(processes)]
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                pool.map(_ready, range(processes), chunksize=1)  # imports done before the clock starts
                started = time.perf_counter()
                runs = pool.starmap(
                    group_commit_run, [(db.url, tenant, group_count // processes, producers) for tenant in tenants]
                )
                elapsed = time.perf_counter() - started
            together = sum(run["events"] for run in runs) / elapsed
            print(
                f"group commit, {processes} processes on {processes} tenants: {together:10,.0f} events/s in all "
                f"({together / grouped:.2f}x one process)"
            )
    finally:
        db.close()


def _ready(_: int) -> None:
    """A no-op task: makes a spawned worker import this module before anything is timed."""


def group_commit_run(url: str, tenant: str, count: int, producers: int) -> dict[str, float]:
    """`producers` threads submit `count` events for `tenant` to one group-commit appender, each waiting for
    its records in windows of 4,000 (like request handlers waiting for durability). Returns the events, the
    wall seconds and this process's CPU seconds."""
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    log = AuditLog(KEY, checkpoint_every=1000)
    appender = GroupCommitAppender(log, sessions, max_batch=2000, max_wait_ms=2)
    per_producer = count // producers

    def produce(offset: int) -> None:
        receipts: list[AppendReceipt] = []
        for i in range(per_producer):
            receipts.append(appender.submit(sample_event(offset + i, tenant)))
            if len(receipts) >= 4000:
                for receipt in receipts:
                    receipt.result()
                receipts.clear()
        for receipt in receipts:
            receipt.result()

    threads = [threading.Thread(target=produce, args=(k * per_producer,)) for k in range(producers)]
    cpu_started, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    appender.close()
    engine.dispose()
    return {"events": per_producer * producers, "seconds": elapsed, "cpu": cpu}


def signed_head(head: ChainHead, frontier: Frontier, moment: datetime) -> Checkpoint:
    """The tree head the store would sign over `head` (whose tree is `frontier`)."""
    root = frontier.root().hex()
    return sign_checkpoint(
        KEY, kind="checkpoint", tenant=head.tenant, seq=head.seq, head_hash=head.hash, root=root, time=moment
    )


def build_export(count: int, every: int = 1000) -> bytes:
    """A full export of `count` records with a signed tree head every `every` records and at the end, as the
    store keeps them by default."""
    head = empty_head("acme")
    frontier = Frontier()
    items: list[StoredRecord | Checkpoint] = []
    moment = datetime.now(UTC)
    for i in range(count):
        record = link(head, sample_event(i))
        head = head_after(record)
        frontier.append(leaf_hash(bytes.fromhex(record.hash)))
        items.append(StoredRecord(record.seq, record.hash, record.body))
        if record.seq % every == 0 or i == count - 1:
            items.append(signed_head(head, frontier, moment))
    out = io.BytesIO()
    header = ExportHeader(
        tenant="acme",
        since=None,
        until=None,
        exported_at=datetime.now(UTC),
        exported_by="bench",
        key_id=key_id(KEY.public_key()),
    )
    write_jsonl(out, header, items, KEY)
    return out.getvalue()


def bench_verify(count: int) -> None:
    import hashlib

    print("\n== verify a JSONL export ==")
    data = build_export(count)
    lines = data.splitlines(keepends=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    for line in lines:
        hashlib.sha256(line).digest()
    hashing, hashing_cpu = count / (time.perf_counter() - started), count / (time.process_time() - cpu_started)
    started, cpu_started = time.perf_counter(), time.process_time()
    report = verify_export(iter(lines), KEY.public_key())
    rate, rate_cpu = count / (time.perf_counter() - started), count / (time.process_time() - cpu_started)
    assert report.ok, report.problems[:3]
    print(f"SHA-256 of each line only (floor): {hashing:12,.0f} lines/s   per CPU second: {hashing_cpu:12,.0f}")
    print(
        f"full verification               : {rate:12,.0f} events/s  per CPU second: {rate_cpu:12,.0f}"
        f"  ({count:,} events)"
    )
    print(
        f"ratio verify / hashing alone: {rate / hashing:.2f} (CPU: {rate_cpu / hashing_cpu:.2f})"
        "   (target >= 200,000/s)"
    )


def bench_export(count: int) -> None:
    print("\n== export from MariaDB ==")
    db = Database()
    try:
        head = empty_head("acme")
        frontier = Frontier()
        batch: list[dict[str, object]] = []
        load_started = time.perf_counter()
        with db.engine.begin() as connection:
            for i in range(count):
                record = link(head, sample_event(i))
                head = head_after(record)
                batch.append(record_row(record))
                kept = frontier.append(leaf_hash(bytes.fromhex(record.hash)), keep_level=TILE_LEVEL)
                insert_nodes(connection, "acme", kept)
                if len(batch) == 5000:
                    connection.execute(insert(audit_records), batch)
                    batch.clear()
            if batch:
                connection.execute(insert(audit_records), batch)
            signed = signed_head(head, frontier, datetime.now(UTC))
            connection.execute(
                insert(audit_heads),
                [
                    {
                        "tenant_id": "acme",
                        "seq": head.seq,
                        "hash": head.hash,
                        "checkpoint_seq": 0,
                        "checkpoint_at": datetime.now(UTC),
                        "tree": frontier.to_bytes(),
                        "signed_head": checkpoint_bytes(signed),
                    }
                ],
            )
        print(f"loaded {count:,} events in {time.perf_counter() - load_started:.1f} s")
        reading = _in_fresh_process(_read_rows, db.url)
        export = _in_fresh_process(_export_jsonl, db.url)
        rate, written, rss_before, peak = export["rate"], export["bytes"], export["rss_before"], export["peak"]
        print(
            f"reading rows only (floor): {reading['rate']:12,.0f} rows/s    "
            f"per CPU second: {reading['cpu_rate']:12,.0f}"
        )
        print(
            f"JSONL export             : {rate:12,.0f} events/s  per CPU second: {export['cpu_rate']:12,.0f}  "
            f"({count:,} events, {written / 1e6:,.0f} MB)"
        )
        print(f"ratio export / reading rows: {rate / reading['rate']:.2f}   (target >= 100,000/s)")
        print(
            f"memory (export in a fresh process): RSS {rss_before / 1e6:,.0f} MB after start-up, "
            f"peak {peak / 1e6:,.0f} MB (growth {(peak - rss_before) / 1e6:,.1f} MB)"
        )
    finally:
        db.close()


def _in_fresh_process(task: Callable[[str], dict[str, float]], url: str) -> dict[str, float]:
    """Run `task(url)` in a newly spawned interpreter: its memory figures start from a clean process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(task, (url,))


def _read_rows(url: str) -> dict[str, float]:
    """The floor: read the rows page by page as the export does, and do nothing with them."""
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    r = audit_records.c
    started, cpu_started = time.perf_counter(), time.process_time()
    after, rows = 0, 0
    while True:
        with sessions() as session:
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
    rate, cpu_rate = rows / (time.perf_counter() - started), rows / (time.process_time() - cpu_started)
    engine.dispose()
    return {"rate": rate, "cpu_rate": cpu_rate}


def _export_jsonl(url: str) -> dict[str, float]:
    """The export as the gateway streams it, to /dev/null: RSS once started, and the process's high-water mark
    at the end."""
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    span = export_range(sessions, "acme", None, None)
    assert span is not None
    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    header = ExportHeader(
        tenant="acme",
        since=None,
        until=None,
        exported_at=datetime.now(UTC),
        exported_by="bench",
        key_id=key_id(KEY.public_key()),
    )
    with open(os.devnull, "wb") as sink:
        meter = _Meter(sink)
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = write_jsonl(meter, header, export_items(sessions, span), KEY)  # type: ignore[arg-type]
        rate = summary.count / (time.perf_counter() - started)
        cpu_rate = summary.count / (time.process_time() - cpu_started)
    engine.dispose()
    peak = _peak_rss()
    return {"rate": rate, "cpu_rate": cpu_rate, "bytes": meter.written, "rss_before": rss_before, "peak": peak}


def _peak_rss() -> int:
    """This process's RSS high-water mark (VmHWM). Not getrusage's ru_maxrss: Linux carries that across
    fork and exec, so a spawned child would report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class _Meter(io.RawIOBase):
    """Counts what is written and passes it on."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.written = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += len(data)
        return self.sink.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-event", type=int, default=2000, help="events for the per-event-transaction baseline")
    parser.add_argument("--group", type=int, default=100_000, help="events for group commit")
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--verify", type=int, default=300_000, help="events in the verified export")
    parser.add_argument("--export", type=int, default=1_000_000, help="events in the exported log")
    parser.add_argument("--driver", choices=("pymysql", "mysqldb"), default="pymysql", help="MySQL driver for append")
    parser.add_argument("--processes", type=int, default=2, help="appending processes (one tenant each)")
    parser.add_argument("--only", choices=("append", "verify", "export"), help="run one benchmark")
    args = parser.parse_args()
    if args.only in (None, "append"):
        bench_append(args.per_event, args.group, args.producers, args.driver, args.processes)
    if args.only in (None, "verify"):
        bench_verify(args.verify)
    if args.only in (None, "export"):
        bench_export(args.export)


if __name__ == "__main__":
    main()
