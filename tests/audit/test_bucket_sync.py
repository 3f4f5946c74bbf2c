"""Continuous sync into the customer's bucket and the check of the synced history: the local store with real
bytes (through the storage connector's own signer and the store's checks) and Azurite; failures visible and
retried; tampering in the database refused before it reaches the bucket; tampering in the bucket found."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
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
from audit.store.tables import audit_records, audit_sync_targets
from audit.sync import SyncJob, disable_sync, enable_sync, sync_readiness, sync_status
from enclave.db import transaction
from storage_connector.backends import parse_spec
from storage_connector.grants import Grant
from storage_connector.local import LocalSigner, LocalStore
from storage_connector.objects import GrantObjects, ObjectStoreError, grant_objects

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
        return grant_objects(self.grant, self.signer, LocalStore(self.root))

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


# -- the same sync into cloud stores running here: Azurite (SAS checked), moto (S3 object writes) -------------


@pytest.fixture(scope="module")
def azurite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.storage_connector.servers import azurite

    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url


def test_sync_into_azurite_with_real_bytes_then_revoked(
    sessions: sessionmaker[Session], log: AuditLog, clock: Clock, azurite_url: str
) -> None:
    from azure.storage.blob import AccessPolicy, BlobServiceClient, ContainerSasPermissions

    from storage_connector.azure import AzureSigner
    from storage_connector.objects import cloud_http
    from tests.storage_connector.servers import azurite_account_key

    container_name = f"audit-{abs(hash(str(sessions))) % 10**8}"
    service = BlobServiceClient(
        azurite_url, credential={"account_name": "devstoreaccount1", "account_key": azurite_account_key()}
    )
    container = service.create_container(container_name)
    policies = {
        "enclave-urls-r": AccessPolicy(permission=ContainerSasPermissions(read=True, list=True)),
        "enclave-urls-w": AccessPolicy(permission=ContainerSasPermissions(create=True, write=True)),
    }
    container.set_container_access_policy(policies)
    spec = {
        "backend": "azure",
        "bucket": container_name,
        "prefix": "tenants/acme",
        "azure_account": "devstoreaccount1",
        "endpoint": azurite_url,
        "azure_policy_id": "enclave-urls",
    }
    grant = Grant.unsaved("acme", parse_spec(spec), GRANT_ID)
    signer = AzureSigner(grant, account_key=azurite_account_key(), clock=clock)
    objects = GrantObjects(grant, signer, cloud_http(), clock=clock)
    append(sessions, log, 40)
    with transaction(sessions) as session:
        enable_sync(session, log, OPERATOR, "acme", GRANT_ID)
    syncer = SyncJob(sessions, log, lambda tenant, grant_id: objects, clock=clock, segment_records=16)
    clock.now = datetime.now(UTC)  # Azurite checks SAS expiry against its own clock
    (outcome,) = syncer.run_once()
    assert outcome.synced and outcome.size == 41, outcome.error
    report = verify_bucket(Prefixed(objects, PREFIX), TrustedKeys([KEY.public_key()]))
    assert report.ok and report.records == 41 and report.segments == 3, report.problems
    container.set_container_access_policy({})  # customer IT revokes
    append(sessions, log, 1)
    clock.now = datetime.now(UTC) + timedelta(minutes=11)
    (outcome,) = syncer.run_once()
    assert outcome.error is not None and "HTTP 403" in outcome.error
    with sessions() as session:
        assert sync_status(session, "acme")[0].state == "failing"


def test_sync_into_s3_on_moto(sessions: sessionmaker[Session], log: AuditLog, clock: Clock) -> None:
    """moto stores and lists the objects; it does not check presigned signatures (NOTES.md)."""
    import boto3

    from storage_connector.objects import cloud_http
    from storage_connector.s3 import S3Signer
    from tests.storage_connector.servers import moto_server
    from tests.storage_connector.test_objects import FakeSts

    with moto_server(None) as endpoint:
        keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
        s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=endpoint, **keys)
        s3.create_bucket(Bucket="acme-audit", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        spec = {
            "backend": "s3",
            "bucket": "acme-audit",
            "prefix": "tenants/acme",
            "region": "eu-west-1",
            "endpoint": endpoint,
            "role_arn": "arn:aws:iam::123456789012:role/enclave-access",
            "external_id": "acme-7f3c2a91",
        }
        grant = Grant.unsaved("acme", parse_spec(spec), GRANT_ID)
        objects = GrantObjects(grant, S3Signer(grant, sts_client=FakeSts(endpoint), clock=clock), cloud_http())
        append(sessions, log, 30)
        with transaction(sessions) as session:
            enable_sync(session, log, OPERATOR, "acme", GRANT_ID)
        (outcome,) = SyncJob(sessions, log, lambda tenant, grant_id: objects, clock=clock).run_once()
        assert outcome.synced, outcome.error
        report = verify_bucket(Prefixed(objects, PREFIX), TrustedKeys([KEY.public_key()]))
        assert report.ok and report.records == 31, report.problems
        listed = s3.list_objects_v2(Bucket="acme-audit", Prefix="tenants/acme/enclave-audit/")["Contents"]
        assert sorted(item["Key"].rsplit("/", 2)[-2] for item in listed) == ["heads", "segments"]


# -- the customer's script: an independent implementation, the same verdicts ---------------------------------

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_audit_bucket.py"


def run_script(directory: Path, key_file: Path, *extra: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(directory), "--public-key", str(key_file), *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=directory,  # -I and another directory: nothing of this repository is importable
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    from audit.signing import public_key_pem

    path = tmp_path / "audit-public-key.pem"
    path.write_text(public_key_pem(KEY.public_key()))
    return path


def test_the_script_imports_only_the_standard_library_and_cryptography() -> None:
    import ast
    import sys

    tree = ast.parse(SCRIPT.read_text())
    modules = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    modules |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules - set(sys.stdlib_module_names) == {"cryptography"}


@pytest.mark.parametrize(
    "tamper",
    [
        None,
        lambda d: rewrite_segment(d / "segments/00000000000000000122-00000000000000000171.jsonl", 130),
        lambda d: rewrite_segment(d / "segments/00000000000000000172-00000000000000000196.jsonl", 180),
        lambda d: (d / "segments/00000000000000000051-00000000000000000100.jsonl").unlink(),
        lambda d: (d / "heads/00000000000000000121.json").unlink(),
        lambda d: (d / "heads/00000000000000000196.json").write_bytes(
            (d / "heads/00000000000000000196.json").read_bytes().replace(b'"consistency":["', b'"consistency":["0')[:-1]
        ),
        lambda d: shutil.copy(
            d / "segments/00000000000000000001-00000000000000000050.jsonl",
            d / "segments/00000000000000000197-00000000000000000246.jsonl",
        ),
    ],
    ids=["honest", "rewritten", "rewritten-last", "deleted-segment", "deleted-head", "bad-proof", "orphan"],
)
def test_the_script_and_the_library_agree(
    bucket: LocalBucket, synced: SyncJob, key_file: Path, tamper: Callable[[Path], object] | None
) -> None:
    if tamper is not None:
        tamper(bucket.directory)
    library = verify_bucket(DirectoryReader(bucket.directory), TrustedKeys([KEY.public_key()]))
    code, out, err = run_script(bucket.directory, key_file, "--json")
    script = orjson.loads(out)
    assert (code == 0) is library.ok is script["ok"], (library.problems, script["problems"], err)
    assert (script["heads"], script["records"], script["notes"]) == (library.heads, library.records, library.notes)
    assert len(script["problems"]) == len(library.problems)
    if library.ok:
        code, out, _ = run_script(bucket.directory, key_file)
        assert code == 0 and "OK: the synced history verified" in out and "records 1..196" in out


def test_the_script_refuses_another_key(bucket: LocalBucket, synced: SyncJob, tmp_path: Path) -> None:
    from audit.signing import public_key_pem

    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(load_private_key(generate_private_key_pem()).public_key()))
    code, _, err = run_script(bucket.directory, other)
    assert code == 1 and "not trusted" in err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    assert run_script(bucket.directory, bad)[0] == 2


def test_the_key_history_travels_in_the_bucket(
    sessions: sessionmaker[Session], log: AuditLog, bucket: LocalBucket, clock: Clock, key_file: Path
) -> None:
    from audit.bucket import bucket_keys
    from audit.keys import first_entry, rotation_entry

    successor = load_private_key(generate_private_key_pem())
    first = first_entry(KEY)
    for takes_over, verdict in ((T0 + timedelta(days=365), True), (T0 - timedelta(days=1), False)):
        history = [first, rotation_entry(first, KEY, successor, takes_over)]
        shutil.rmtree(bucket.root, ignore_errors=True)
        append(sessions, log, 5)
        with transaction(sessions) as session:
            if not sync_status(session, "acme"):
                enable_sync(session, log, OPERATOR, "acme", GRANT_ID, PREFIX)
            else:
                session.execute(update(audit_sync_targets).values(synced_size=0))
        clock.now += timedelta(minutes=10)
        (outcome,) = job(sessions, log, bucket, clock, key_history=lambda h=history: h).run_once()
        assert outcome.synced, outcome.error
        assert sorted(p.name for p in (bucket.directory / "keys").iterdir()) == [
            f"0000-{first.key_id}.json",
            f"0001-{history[1].key_id}.json",
        ]
        reader = DirectoryReader(bucket.directory)
        report = verify_bucket(reader, bucket_keys(reader, [KEY.public_key()]))
        assert report.ok is verdict, report.problems
        assert (run_script(bucket.directory, key_file)[0] == 0) is verdict
        if not verdict:
            assert "outside the validity" in report.problems[0]
