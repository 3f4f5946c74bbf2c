"""The relational audit store on SQLite and on the machine's MariaDB: append in the caller's transaction,
fail closed, checkpoints, emission after commit, group commit, query, export and retention."""

from __future__ import annotations

import io
import itertools
import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from sqlalchemy import delete, insert, select, text, update

from audit.checkpoints import sign_checkpoint
from audit.events import SYSTEM_ACTOR, Actor, ActorKind, AuditEvent, InvalidEventError, Outcome, utc_now
from audit.otel import OtelRecordEmitter
from audit.signing import generate_private_key_pem, load_private_key
from audit.store.group_commit import GroupCommitAppender
from audit.store.log import AuditLog, AuditWriteError, checkpoint_row
from audit.store.reader import ChainStartError, EventFilter, export_range, query_events
from audit.store.retention import prune
from audit.store.tables import audit_checkpoints, audit_records
from audit.verify import verify_export
from enclave.db import transaction
from tests.audit.store.exporting import export_bytes as export_chain

KEY = load_private_key(generate_private_key_pem())
ALICE = Actor(ActorKind.USER, "u-alice", email="alice@acme.example")


class ManualClock:
    """The log's clock, set by the test: records are chained at the append time, not the act's."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def event(tenant: str = "acme", action: str = "audit.demo", **kwargs: object) -> AuditEvent:
    return AuditEvent(tenant=tenant, actor=kwargs.pop("actor", ALICE), action=action, **kwargs)  # type: ignore[arg-type]


def export_bytes(sessions, tenant: str, since=None, until=None) -> bytes:  # type: ignore[no-untyped-def]
    return export_chain(sessions, KEY, tenant, since, until)


def verify(data: bytes):  # type: ignore[no-untyped-def]
    return verify_export(io.BytesIO(data), KEY.public_key())


def test_appends_form_one_verifiable_chain_per_tenant(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY, checkpoint_every=4)
    for index in range(10):
        with transaction(sessions) as session:
            log.append(session, event(details={"n": index}))
            log.append(session, event("globex"))
    with sessions() as session:
        assert log.head(session, "acme").seq == 10
        assert log.head(session, "globex").seq == 10
        kinds = (
            session.execute(select(audit_checkpoints.c.seq).where(audit_checkpoints.c.tenant_id == "acme"))
            .scalars()
            .all()
        )
    assert sorted(kinds) == [1, 4, 8]  # the first signed head, then every 4 records
    report = verify(export_bytes(sessions, "acme"))
    assert report.ok, report.problems


def test_a_failed_act_leaves_no_record_and_a_failed_record_undoes_the_act(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        log.append(session, event())
        raise RuntimeError("the act failed")
    with sessions() as session:
        assert log.head(session, "acme").seq == 0
    # Now break the store: the act in the same transaction must not happen either.
    with transaction(sessions) as session:
        session.execute(text("CREATE TABLE acts (id INTEGER PRIMARY KEY)"))
    with transaction(sessions) as session:
        session.execute(text("DROP TABLE audit_records"))
    with pytest.raises(AuditWriteError) as failure, transaction(sessions) as session:
        session.execute(text("INSERT INTO acts (id) VALUES (1)"))
        log.append(session, event())
    assert "could not be written" in str(failure.value)
    with sessions() as session:
        assert session.execute(text("SELECT COUNT(*) FROM acts")).scalar() == 0


def test_records_are_emitted_to_opentelemetry_only_after_commit(sessions) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    log = AuditLog(KEY, emitter=OtelRecordEmitter(provider))
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        log.append(session, event(details={"rolled": "back"}))
        raise RuntimeError("rollback")
    assert exporter.get_finished_logs() == ()
    with transaction(sessions) as session:
        log.append(session, event(action="auth.login.succeeded", request_id="req-12345678"))
        assert exporter.get_finished_logs() == ()  # not before commit
    (emitted,) = exporter.get_finished_logs()
    record = emitted.log_record
    assert record.event_name == "auth.login.succeeded"
    assert record.attributes is not None
    assert record.attributes["enclave.tenant"] == "acme"
    assert record.attributes["enclave.audit.seq"] == 1
    assert record.attributes["enclave.request_id"] == "req-12345678"


def test_secrets_are_redacted_before_they_are_stored(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY)
    signed = "https://acme-data.s3.amazonaws.com/k.bin?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=" + "ab" * 32
    with transaction(sessions) as session:
        log.append(session, event(details={"url": signed, "password": "hunter2-very-secret"}))
    with sessions() as session:
        body = session.execute(select(audit_records.c.body)).scalar_one()
    assert b"ab" * 32 not in body
    assert b"hunter2-very-secret" not in body
    assert b"k.bin" in body


def test_checkpoint_if_due_signs_quiet_tenants(sessions) -> None:  # type: ignore[no-untyped-def]
    clock = [datetime(2026, 11, 22, tzinfo=UTC)]
    log = AuditLog(KEY, checkpoint_every=1000, checkpoint_seconds=60, clock=lambda: clock[0])
    with transaction(sessions) as session:
        log.append(session, event())  # a log's first signed head is kept as a checkpoint at once
    with transaction(sessions) as session:
        log.append(session, event())  # signed in its commit; kept as a checkpoint when due
    with transaction(sessions) as session:
        assert log.checkpoint_if_due(session, "acme") is None  # not yet due
    clock[0] += timedelta(seconds=61)
    with transaction(sessions) as session:
        checkpoint = log.checkpoint_if_due(session, "acme")
    assert checkpoint is not None and checkpoint.seq == 2
    with transaction(sessions) as session:
        assert log.checkpoint_if_due(session, "acme", force=True) is None  # nothing new to keep


def test_group_commit_resolves_every_future_with_a_contiguous_chain(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY, checkpoint_every=50)
    appender = GroupCommitAppender(log, sessions, max_batch=64, max_wait_ms=5)
    results: list[int] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        futures = [appender.submit(event(details={"i": i})) for i in range(count)]
        seqs = [f.result(timeout=60).seq for f in futures]
        with lock:
            results.extend(seqs)

    threads = [threading.Thread(target=worker, args=(100,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    appender.close()
    assert sorted(results) == list(range(1, 401))
    assert verify(export_bytes(sessions, "acme")).ok


def test_group_commit_fails_every_waiter_when_the_store_is_down(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY)
    with transaction(sessions) as session:
        session.execute(text("DROP TABLE audit_heads"))
    appender = GroupCommitAppender(log, sessions)
    futures = [appender.submit(event()) for _ in range(5)]
    for future in futures:
        with pytest.raises(AuditWriteError):
            future.result(timeout=30)
    appender.close()
    with pytest.raises(AuditWriteError):
        appender.append(event())


def test_query_filters_and_pages_in_chain_order(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    clock = ManualClock(start)
    log = AuditLog(KEY, clock=clock)
    with transaction(sessions) as session:
        for i in range(30):
            clock.now = start + timedelta(minutes=i)
            log.append(
                session,
                event(
                    action="auth.login.failed" if i % 3 == 0 else "auth.login.succeeded",
                    outcome=Outcome.DENIED if i % 3 == 0 else Outcome.SUCCESS,
                    actor=SYSTEM_ACTOR if i % 2 else ALICE,
                ),
            )
        log.append(session, event("globex", action="auth.login.failed", outcome=Outcome.DENIED))
    with sessions() as session:
        denied = query_events(session, "acme", EventFilter(outcome=Outcome.DENIED), limit=100)
        assert [r.seq for r in denied] == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
        page1 = query_events(session, "acme", EventFilter(action="auth.login.failed"), limit=4)
        page2 = query_events(session, "acme", EventFilter(action="auth.login.failed"), after_seq=page1[-1].seq, limit=4)
        assert [r.seq for r in page1 + page2] == [1, 4, 7, 10, 13, 16, 19, 22]
        window = EventFilter(since=start + timedelta(minutes=10), until=start + timedelta(minutes=12))
        assert [r.seq for r in query_events(session, "acme", window)] == [11, 12]
        alice = query_events(session, "acme", EventFilter(actor="u-alice"))
        assert len(alice) == 15
        assert all(b'"tenant":"acme"' in r.body for r in alice)


def test_time_bounded_export_verifies(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    clock = ManualClock(start)
    log = AuditLog(KEY, checkpoint_every=5, clock=clock)
    with transaction(sessions) as session:
        for i in range(20):
            clock.now = start + timedelta(hours=i)
            log.append(session, event())
    data = export_bytes(sessions, "acme", since=start + timedelta(hours=3), until=start + timedelta(hours=12))
    report = verify(data)
    assert report.ok, report.problems
    assert data.count(b'"type":"record"') == 9


def test_cutting_the_tail_after_a_checkpoint_is_detected(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY, checkpoint_every=5)
    with transaction(sessions) as session:
        for _ in range(12):
            log.append(session, event())
    with transaction(sessions) as session:  # an attacker with database access removes records 8..12
        session.execute(delete(audit_records).where(audit_records.c.seq >= 8))
    with pytest.raises(ChainStartError, match="record 8 is neither in the log"):
        export_bytes(sessions, "acme")  # the signed tree head over 12 records cannot be reached from 7


def test_prune_leaves_an_anchor_and_later_exports_still_verify(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    log = AuditLog(KEY, checkpoint_every=4, clock=clock)
    with transaction(sessions) as session:
        for i in range(10):
            clock.now = start + timedelta(days=i)
            log.append(session, event())
    clock.now = start + timedelta(days=20)
    with transaction(sessions) as session:
        anchor = prune(session, log, "acme", start + timedelta(days=6))
    assert anchor is not None and anchor.seq == 6 and anchor.pruned_count == 6
    with transaction(sessions) as session:
        log.append(session, event(action="audit.pruned"))
    data = export_bytes(sessions, "acme")
    report = verify(data)
    assert report.ok, report.problems
    assert b'"type":"anchor"' in data
    with transaction(sessions) as session:
        assert prune(session, log, "acme", start) is None  # nothing older than that
    # Tampering with the anchor's pruned count breaks its signature.
    with transaction(sessions) as session:
        session.execute(update(audit_checkpoints).where(audit_checkpoints.c.kind == "anchor").values(pruned_count=1))
    assert not verify(export_bytes(sessions, "acme")).ok


# -- where the chain starts (issue 7, section 1) ----------------------------------------------------------


def test_deleting_the_oldest_records_in_the_database_is_detected(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY, checkpoint_every=5)
    with transaction(sessions) as session:
        for _ in range(20):
            log.append(session, event())
    with transaction(sessions) as session:  # an insider removes records 1..10 and their checkpoints
        session.execute(delete(audit_records).where(audit_records.c.seq <= 10))
        session.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq <= 10))
    with pytest.raises(ChainStartError, match=r"records 1\.\.10 are neither present nor covered"):
        export_bytes(sessions, "acme")
    with pytest.raises(ChainStartError):  # a range reaching back before the cut is refused too
        export_bytes(sessions, "acme", since=datetime(2000, 1, 1, tzinfo=UTC))


def test_checkpoints_commit_to_where_the_chain_starts(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    log = AuditLog(KEY, checkpoint_every=4, checkpoint_seconds=10**9, clock=clock)
    with transaction(sessions) as session:
        for i in range(10):
            clock.now = start + timedelta(days=i)
            log.append(session, event())
    clock.now = start + timedelta(days=20)
    with transaction(sessions) as session:
        prune(session, log, "acme", start + timedelta(days=6))
    for _ in range(4):
        with transaction(sessions) as session:
            log.append(session, event())
    with sessions() as session:
        rows = session.execute(
            select(audit_checkpoints.c.seq, audit_checkpoints.c.kind, audit_checkpoints.c.pruned_count).order_by(
                audit_checkpoints.c.seq
            )
        ).all()
    # Checkpoint 8 was signed before the prune (chain from genesis); 12 after it (chain after seq 6).
    assert [tuple(row) for row in rows] == [(6, "anchor", 6), (8, "checkpoint", 0), (12, "checkpoint", 6)]
    assert verify(export_bytes(sessions, "acme")).ok


def test_a_forged_anchor_row_cannot_move_the_start(sessions) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(KEY, checkpoint_every=3)
    with transaction(sessions) as session:
        log.append(session, event())
        log.append(session, event())
    other = load_private_key(generate_private_key_pem())
    forged = sign_checkpoint(
        other, kind="anchor", tenant="acme", seq=1, head_hash="0" * 64, root="0" * 64, time=utc_now(), pruned_count=1
    )
    with transaction(sessions) as session:  # an insider deletes record 1 and writes an anchor over it
        session.execute(delete(audit_records).where(audit_records.c.seq == 1))
        session.execute(insert(audit_checkpoints), [checkpoint_row(forged)])
    with pytest.raises(ChainStartError, match=r"anchor of acme at seq 1 is forged: the log's signed tree head says"):
        export_range(sessions, "acme", None, None)
    with pytest.raises(
        ChainStartError, match=r"anchor of acme at seq 1 is signed by key \w+, which is not this gateway's"
    ):
        export_range(sessions, "acme", None, None, check=log.verify)
    with transaction(sessions) as session:  # appending goes on: the anchor is only read to export
        log.append(session, event())


# -- time along the chain (issue 7, section 2) -------------------------------------------------------------


def test_chain_time_is_the_append_time_and_never_goes_back(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)
    clock = ManualClock(start)
    log = AuditLog(KEY, clock=clock)
    with transaction(sessions) as session:
        log.append(session, event())
    clock.now = start - timedelta(seconds=5)  # another gateway whose clock is behind appends next
    act = start - timedelta(minutes=3)
    with transaction(sessions) as session:
        second = log.append(session, event(time=act))
        third = log.append(session, event())
    assert second.time == start and third.time == start  # held at the predecessor's time, not earlier
    with sessions() as session:
        bodies = [
            orjson.loads(body)
            for body in session.execute(select(audit_records.c.body).order_by(audit_records.c.seq)).scalars()
        ]
    times = [body["time"] for body in bodies]
    assert times == sorted(times) and times[0] == "2026-11-30T12:00:00.000000Z"
    assert bodies[1]["details"]["occurred_at"] == "2026-11-30T11:57:00.000000Z"  # the act's own time
    assert "occurred_at" not in bodies[2]["details"]


def test_times_are_monotonic_per_tenant_under_concurrent_appenders(sessions) -> None:  # type: ignore[no-untyped-def]
    """Two appenders (two gateways) with clocks that disagree by a second, interleaving on one tenant."""
    behind = AuditLog(KEY, clock=lambda: utc_now() - timedelta(seconds=1))
    ahead = AuditLog(KEY)
    errors: list[BaseException] = []

    def append(log: AuditLog) -> None:
        try:
            for _ in range(40):
                with transaction(sessions) as session:
                    log.append(session, event())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(log,)) for log in (behind, ahead)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with sessions() as session:
        times = list(session.execute(select(audit_records.c.time).order_by(audit_records.c.seq)).scalars())
    assert len(times) == 80
    assert all(earlier <= later for earlier, later in itertools.pairwise(times))


def test_details_cannot_claim_the_occurred_at_key() -> None:
    with pytest.raises(InvalidEventError, match="occurred_at is set by the log"):
        event(details={"occurred_at": "2020-01-01T00:00:00.000000Z"})
