"""Continuous sync into the customer's bucket and the check of the synced history: the local store with real
bytes (through the storage connector's own signer and the store's checks) and Azurite; failures visible and
retried; tampering in the database refused before it reaches the bucket; tampering in the bucket found."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.bucket import DirectoryReader, Prefixed, verify_bucket
from audit.canonical import canonical_bytes
from audit.events import Actor, ActorKind, AuditEvent
from audit.keys import TrustedKeys
from audit.signing import generate_private_key_pem, load_private_key
from audit.store.log import AuditLog
from audit.store.retention import prune
from audit.store.tables import audit_records
from audit.sync import SyncJob, disable_sync, enable_sync, sync_readiness, sync_status
from enclave.db import transaction
from storage_connector.grants import Grant, parse_spec
from storage_connector.local import LocalSigner, LocalStore
from storage_connector.objects import GrantObjects, ObjectStoreError, local_http

KEY = load_private_key(generate_private_key_pem())
T0 = datetime(2026, 4, 1, tzinfo=UTC)
OPERATOR = Actor(ActorKind.OPERATOR, "cli:root")
GRANT_ID = "0123456789abcdef"
PREFIX = "enclave-audit/"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(clock: Clock) -> AuditLog:
    return AuditLog(KEY, checkpoint_every=100, clock=clock)


class LocalBucket:
    """The customer's bucket on the local store, reached only through a grant's signed URLs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.grant = Grant.unsaved(
            "acme", parse_spec({"backend": "local", "bucket": "data", "prefix": "tenants/acme"}), GRANT_ID
        )
        self.signer = LocalSigner(grant_id=GRANT_ID, key=b"s" * 32, base_url="http://gw", max_upload_bytes=1 << 26)
        self.refuse: str | None = None  # set: the grant is unusable (revoked), with this reason

    def objects(self, tenant: str, grant_id: str) -> GrantObjects:
        assert (tenant, grant_id) == ("acme", GRANT_ID)
        if self.refuse is not None:
            raise ObjectStoreError(self.refuse, denied=True)
        return GrantObjects(self.grant, self.signer, local_http(self.signer, LocalStore(self.root), "data"))

    @property
    def directory(self) -> Path:
        """What `aws s3 sync s3://bucket/tenants/acme/enclave-audit/ DIR` would download."""
        return self.root / "data" / "tenants" / "acme" / "enclave-audit"


@pytest.fixture
def bucket(tmp_path: Path) -> LocalBucket:
    return LocalBucket(tmp_path / "store")


def append(sessions: sessionmaker[Session], log: AuditLog, count: int, batch: int = 10) -> None:
    for first in range(0, count, batch):
        with transaction(sessions) as session:
            log.append_many(
                session,
                [
                    AuditEvent(tenant="acme", actor=OPERATOR, action="audit.demo", details={"n": n})
                    for n in range(first, min(first + batch, count))
                ],
            )


def job(sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, **kwargs: object) -> SyncJob:
    return SyncJob(sessions, log, bucket.objects, clock=clock, **kwargs)  # type: ignore[arg-type]


def check(bucket: LocalBucket) -> tuple[bool, list[str], str]:
    report = verify_bucket(DirectoryReader(bucket.directory), TrustedKeys([KEY.public_key()]))
    return report.ok, report.problems, report.summary()


def actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        bodies = session.execute(select(audit_records.c.body).order_by(audit_records.c.seq)).scalars().all()
    return [orjson.loads(body)["action"] for body in bodies]


@pytest.fixture
def synced(sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock) -> SyncJob:
    """A tenant with 120 records, sync enabled, two syncs ten minutes apart (three heads in all)."""
    append(sessions, log, 120)
    with transaction(sessions) as session:
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID, PREFIX)
    syncer = job(sessions, log, bucket, clock, segment_records=50)
    assert [o.synced for o in syncer.run_once()] == [True]
    assert syncer.run_once() == []  # not due again until the interval has passed
    append(sessions, log, 75)
    clock.now += timedelta(minutes=10)
    (outcome,) = syncer.run_once()
    assert outcome.synced and outcome.size == 196 and outcome.error is None
    return syncer


# -- the happy path -----------------------------------------------------------------------------------------


def test_sync_writes_append_only_segments_and_heads_that_verify(
    sessions: sessionmaker[Session], bucket: LocalBucket, synced: SyncJob
) -> None:
    names = sorted(path.relative_to(bucket.directory).as_posix() for path in bucket.directory.rglob("*.json*"))
    assert names == [
        "heads/00000000000000000121.json",
        "heads/00000000000000000196.json",
        "segments/00000000000000000001-00000000000000000050.jsonl",
        "segments/00000000000000000051-00000000000000000100.jsonl",
        "segments/00000000000000000101-00000000000000000121.jsonl",
        "segments/00000000000000000122-00000000000000000171.jsonl",
        "segments/00000000000000000172-00000000000000000196.jsonl",
    ]
    ok, problems, summary = check(bucket)
    assert ok, problems
    assert "2 synced heads, 5 segments, 196 records" in summary and "records 1..196" in summary
    with sessions() as session:
        (status,) = sync_status(session, "acme", now=T0 + timedelta(minutes=10))
        assert (status.state, status.synced_size, status.log_size, status.failures) == ("ok", 196, 196, 0)
        assert sync_readiness(session, now=T0 + timedelta(minutes=10)) == []
    head = orjson.loads((bucket.directory / "heads/00000000000000000196.json").read_bytes())
    assert head["previous"]["size"] == 121 and head["consistency"]  # the RFC 9162 proof from the previous head


def test_sync_through_a_grants_own_reader_checks_the_same(bucket: LocalBucket, synced: SyncJob) -> None:
    """`enclave audit verify-bucket` reads the bucket through the grant (no download needed)."""
    report = verify_bucket(Prefixed(bucket.objects("acme", GRANT_ID), PREFIX), TrustedKeys([KEY.public_key()]))
    assert report.ok and report.records == 196


# -- tampering in the bucket ----------------------------------------------------------------------------------


def rewrite_segment(path: Path, seq: int) -> None:
    """Alter record `seq` in a segment, rehash it and relink the records after it in that segment."""
    lines = path.read_bytes().splitlines(keepends=True)
    prev = None
    for number, line in enumerate(lines):
        item = orjson.loads(line)
        if item.get("type") != "record" or item["body"]["seq"] < seq:
            continue
        if item["body"]["seq"] == seq:
            item["body"]["outcome"] = "denied"
        else:
            item["body"]["prev"] = prev
        item["hash"] = hashlib.sha256(canonical_bytes(item["body"])).hexdigest()
        prev = item["hash"]
        lines[number] = canonical_bytes(item) + b"\n"
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda d: rewrite_segment(d / "segments/00000000000000000122-00000000000000000171.jsonl", 130),
            "record 172 does not link to the record before it",  # the next segment's first record names 171
        ),
        (
            lambda d: rewrite_segment(d / "segments/00000000000000000172-00000000000000000196.jsonl", 180),
            "do not make the tree its signed head signs",  # the last segment: the signed root says it
        ),
        (
            lambda d: rewrite_segment(d / "segments/00000000000000000051-00000000000000000100.jsonl", 99),
            "does not link",
        ),
        (lambda d: (d / "segments/00000000000000000051-00000000000000000100.jsonl").unlink(), "is missing"),
        (lambda d: (d / "heads/00000000000000000121.json").unlink(), "names size 121 as the previous"),
        (
            lambda d: (d / "segments/00000000000000000001-00000000000000000050.jsonl").write_bytes(
                (d / "segments/00000000000000000001-00000000000000000050.jsonl").read_bytes()[:-200]
            ),
            "cut",
        ),
        (
            lambda d: (d / "heads/00000000000000000196.json").write_bytes(
                (d / "heads/00000000000000000196.json").read_bytes().replace(b'"seq":196', b'"seq":195')
            ),
            "covers 195 records",
        ),
    ],
    ids=[
        "rewritten-segment",
        "rewritten-last-segment",
        "broken-link",
        "deleted-segment",
        "deleted-head",
        "cut-segment",
        "edited-head",
    ],
)
def test_tampering_with_the_bucket_is_found(
    bucket: LocalBucket, synced: SyncJob, tamper: Callable[[Path], None], expected: str
) -> None:
    assert check(bucket)[0]
    tamper(bucket.directory)
    ok, problems, _ = check(bucket)
    assert not ok
    assert any(expected in problem for problem in problems), problems


def test_a_segment_no_head_names_is_a_note(bucket: LocalBucket, synced: SyncJob) -> None:
    shutil.copy(
        bucket.directory / "segments/00000000000000000001-00000000000000000050.jsonl",
        bucket.directory / "segments/00000000000000000197-00000000000000000246.jsonl",
    )
    report = verify_bucket(DirectoryReader(bucket.directory), TrustedKeys([KEY.public_key()]))
    assert report.ok and "named by no synced head" in report.notes[0]


def test_a_bucket_signed_by_another_key_is_refused(bucket: LocalBucket, synced: SyncJob) -> None:
    other = load_private_key(generate_private_key_pem())
    report = verify_bucket(DirectoryReader(bucket.directory), TrustedKeys([other.public_key()]))
    assert not report.ok and "signed by key" in report.problems[0]


# -- failures: visible, audited, retried ---------------------------------------------------------------------


def test_a_failed_sync_is_visible_audited_retried_and_recovers(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, synced: SyncJob
) -> None:
    append(sessions, log, 5)
    bucket.refuse = "the store refused access (HTTP 403)"
    clock.now += timedelta(minutes=10)
    (outcome,) = synced.run_once()
    assert not outcome.synced and outcome.error == "the store refused access (HTTP 403)"
    with sessions() as session:
        (status,) = sync_status(session, "acme")
        assert (status.state, status.failures, status.synced_size) == ("failing", 1, 196)
        assert status.next_attempt_at == clock.now + timedelta(seconds=30)  # retried soon, with backoff
        (readiness,) = sync_readiness(session)
        assert "failing (1x): the store refused access" in readiness
    assert actions(sessions)[-1] == "audit.sync.failed"
    clock.now += timedelta(seconds=31)
    assert synced.run_once()[0].error is not None  # the same reason again: not audited twice
    assert actions(sessions)[-1] == "audit.sync.failed" and actions(sessions).count("audit.sync.failed") == 1
    with sessions() as session:
        assert sync_status(session, "acme")[0].next_attempt_at == clock.now + timedelta(seconds=60)
    bucket.refuse = None
    clock.now += timedelta(minutes=2)
    (outcome,) = synced.run_once()
    assert outcome.synced and outcome.error is None
    assert actions(sessions)[-1] == "audit.sync.recovered"
    assert check(bucket)[0]
    with sessions() as session:  # the recovery record itself goes with the next sync
        assert sync_status(session, "acme", now=clock.now)[0].state == "ok"


def test_a_log_rewritten_in_the_database_never_reaches_the_bucket(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, synced: SyncJob
) -> None:
    with transaction(sessions) as session:  # an insider rewrites an already synced record's stored body
        body = orjson.loads(
            session.execute(select(audit_records.c.body).where(audit_records.c.seq == 150)).scalar_one()
        )
        body["outcome"] = "denied"
        session.execute(update(audit_records).where(audit_records.c.seq == 150).values(body=canonical_bytes(body)))
    append(sessions, AuditLog(KEY, clock=clock), 3)  # appends go on (the head row and tree are untouched)
    clock.now += timedelta(minutes=10)
    (outcome,) = synced.run_once()
    assert outcome.synced  # the stored hashes (which the tree is made of) were not touched: the bucket is right
    assert check(bucket)[0]
    # Now the insider also rehashes: the tree in the database no longer extends the bucket's head.
    from tests.audit.store.test_proofs import rewrite_from

    with transaction(sessions) as session:
        rewrite_from(session, 150)
    clock.now += timedelta(minutes=10)
    (outcome,) = synced.run_once()
    assert not outcome.synced
    assert outcome.error is not None and "does not extend the head synced to the bucket at 199 records" in outcome.error
    assert sorted(p.name for p in (bucket.directory / "heads").iterdir())[-1] == "00000000000000000199.json"
    with sessions() as session:
        assert sync_status(session, "acme")[0].state == "failing"


def test_heads_deleted_from_the_bucket_are_a_failure(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, synced: SyncJob
) -> None:
    (bucket.directory / "heads/00000000000000000196.json").unlink()
    append(sessions, log, 1)
    clock.now += timedelta(minutes=10)
    (outcome,) = synced.run_once()
    assert outcome.error is not None and "synced heads were deleted from the bucket" in outcome.error


# -- pruning and the sync ---------------------------------------------------------------------------------------


def test_retention_never_prunes_what_is_not_synced_yet(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, synced: SyncJob
) -> None:
    append(sessions, log, 50)
    clock.now += timedelta(days=2)
    with transaction(sessions) as session:
        anchor = prune(session, log, "acme", clock.now)
    assert anchor is not None and anchor.seq == 196  # records 197..246 are not in the bucket yet
    (outcome,) = synced.run_once()
    assert outcome.synced and outcome.size == 246
    assert check(bucket)[0]


def test_a_sync_enabled_after_pruning_starts_at_the_anchor(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock
) -> None:
    append(sessions, log, 60)
    clock.now += timedelta(days=1)
    append(sessions, log, 10)
    with transaction(sessions) as session:
        prune(session, log, "acme", clock.now)
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID, PREFIX)
    (outcome,) = job(sessions, log, bucket, clock).run_once()
    assert outcome.synced, outcome.error
    report = verify_bucket(DirectoryReader(bucket.directory), TrustedKeys([KEY.public_key()]))
    assert report.ok, report.problems
    assert report.first_seq == 61


def test_enable_and_disable_are_audited_and_validated(sessions: sessionmaker[Session], log: AuditLog) -> None:
    with transaction(sessions) as session, pytest.raises(Exception, match="prefix"):
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID, "../up/")
    with transaction(sessions) as session:
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID)
    with transaction(sessions) as session, pytest.raises(Exception, match="already syncs"):
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID)
    with transaction(sessions) as session:
        disable_sync(session, log, OPERATOR, "acme", GRANT_ID)
    with transaction(sessions) as session, pytest.raises(Exception, match="does not sync"):
        disable_sync(session, log, OPERATOR, "acme", GRANT_ID)
    assert actions(sessions) == ["audit.sync.enabled", "audit.sync.disabled"]
