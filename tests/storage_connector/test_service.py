"""Issuing URL batches, grant changes and revocation, on SQLite and MariaDB with the local backend."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, AuditEvent
from audit.store.group_commit import GroupCommitAppender
from audit.store.tables import audit_records
from auth.roles import Role
from enclave.db import create_db_engine, session_factory
from enclave.runtime import Runtime
from storage_connector.backends import parse_spec
from storage_connector.grants import Grant, GrantError, GrantStatus
from storage_connector.platform import SignerUnavailableError
from storage_connector.service import BatchItem, Refusal, StorageRefusedError, StorageService, keys_digest
from storage_connector.signer import Operation
from tests.storage_connector.conftest import principal

MEMBER = principal(Role.MEMBER)


def _records(runtime: Runtime, tenant: str = "acme", action: str | None = None) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        query = select(audit_records.c.body).where(audit_records.c.tenant_id == tenant).order_by(audit_records.c.seq)
        bodies = [row.body if isinstance(row.body, dict) else json.loads(row.body) for row in session.execute(query)]
    return [b for b in bodies if action is None or b["action"] == action]


def test_a_batch_is_signed_and_audited_once(runtime: Runtime, storage: StorageService, local_grant: Grant) -> None:
    items = [BatchItem(Operation.PUT, "in/a.txt", content_type="text/plain"), BatchItem(Operation.GET, "in/a.txt")]
    batch = storage.issue(MEMBER, local_grant.name, items, ttl_seconds=120)
    assert [u.key for u in batch.urls] == ["in/a.txt", "in/a.txt"]
    assert [u.signed.method for u in batch.urls] == ["PUT", "GET"]
    assert all("/tenants/acme/in/a.txt?" in u.signed.url for u in batch.urls)
    assert batch.expires_at - runtime.audit.clock() <= timedelta(seconds=120)
    [record] = _records(runtime, action="storage.urls.issued")
    assert record["id"] == batch.batch_id
    details = record["details"]
    assert details["count"] == 2
    assert details["operations"] == {"get": 1, "put": 1}
    assert details["keys_sha256"] == keys_digest(["tenants/acme/in/a.txt"] * 2)
    assert details["ttl_seconds"] == 120
    text = json.dumps(record)
    for url in batch.urls:
        signature = url.signed.url.rsplit("signature=", 1)[1]
        assert signature not in text


@pytest.mark.parametrize(
    ("role", "operation"),
    [(Role.VIEWER, Operation.PUT), (Role.SECURITY_ADMIN, Operation.GET), (Role.AUDITOR, Operation.GET)],
)
def test_roles_without_the_permission_are_refused_and_audited(
    runtime: Runtime, storage: StorageService, local_grant: Grant, role: Role, operation: Operation
) -> None:
    with pytest.raises(StorageRefusedError) as refused:
        storage.issue(principal(role), local_grant.id, [BatchItem(operation, "x")])
    assert refused.value.refusal is Refusal.FORBIDDEN
    [denied] = _records(runtime, action="storage.urls.denied")
    assert denied["outcome"] == "denied"
    assert not _records(runtime, action="storage.urls.issued")


def test_viewer_gets_read_urls(storage: StorageService, local_grant: Grant) -> None:
    batch = storage.issue(principal(Role.VIEWER), local_grant.id, [BatchItem(Operation.GET, "x")])
    assert len(batch.urls) == 1


BAD_ITEMS = [
    (BatchItem(Operation.GET, "../globex/secret"), "'..' segment"),
    (BatchItem(Operation.GET, "%2e%2e/x"), "percent-encoded"),
    (BatchItem(Operation.GET, "/abs"), "relative"),
    (BatchItem(Operation.GET, "a\x00b"), "control"),
    (BatchItem(Operation.GET, "x", content_type="text/plain"), "content_type"),
    (BatchItem(Operation.PUT, "x", content_type="not a type"), "content_type"),
    (BatchItem(Operation.PUT, "x", content_md5="zz"), "base64"),
    (BatchItem(Operation.PUT, "x", checksum_sha256="AAAA"), "32 bytes"),
    (BatchItem(Operation.MULTIPART_PART, "x", upload_id="u"), "part_number"),
    (BatchItem(Operation.MULTIPART_PART, "x", upload_id="u", part_number=10001), "between 1 and 10000"),
    (BatchItem(Operation.MULTIPART_ABORT, "x"), "upload_id is required"),
    (BatchItem(Operation.GET, "x", upload_id="u"), "upload_id is not allowed"),
]


KEY_REFUSALS = {"'..' segment", "percent-encoded", "relative", "control"}


def test_one_bad_item_refuses_the_whole_batch(runtime: Runtime, storage: StorageService, local_grant: Grant) -> None:
    for number, (item, message) in enumerate(BAD_ITEMS, start=1):
        with pytest.raises(StorageRefusedError, match=message) as refused:
            storage.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, "fine"), item])
        expected = Refusal.KEY_REFUSED if message in KEY_REFUSALS else Refusal.INVALID
        assert refused.value.refusal is expected, message
        assert refused.value.index in (1, None)
        assert len(_records(runtime, action="storage.urls.denied")) == number
    assert not _records(runtime, action="storage.urls.issued")


def test_batch_size_and_ttl_limits(storage: StorageService, local_grant: Grant) -> None:
    with pytest.raises(StorageRefusedError, match="1 to 1000"):
        storage.issue(MEMBER, local_grant.id, [])
    with pytest.raises(StorageRefusedError, match="1 to 1000"):
        storage.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, f"k{i}") for i in range(1001)])
    with pytest.raises(StorageRefusedError, match="between 1 and 3600"):
        storage.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, "k")], ttl_seconds=3601)
    assert (
        len(storage.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, f"k{i}") for i in range(1000)]).urls)
        == 1000
    )


def test_another_tenants_grant_is_not_found_and_the_attempt_audited(
    runtime: Runtime, storage: StorageService, local_grant: Grant
) -> None:
    intruder = principal(Role.ADMIN, tenant="globex", user="mallory")
    for ref in (local_grant.id, local_grant.name):
        with pytest.raises(StorageRefusedError) as refused:
            storage.issue(intruder, ref, [BatchItem(Operation.GET, "x")])
        assert refused.value.refusal is Refusal.NOT_FOUND
    denied = _records(runtime, "globex", action="storage.urls.denied")
    assert len(denied) == 2
    assert denied[0]["actor"]["id"] == "mallory"
    assert not _records(runtime, "acme", action="storage.urls.denied")
    with pytest.raises(GrantError):
        storage.revoke(SYSTEM_ACTOR, "globex", local_grant.id, "not theirs")
    assert storage.status("acme")[0].status is GrantStatus.ACTIVE


def test_revoke_and_restore_are_audited_and_take_effect(
    runtime: Runtime, storage: StorageService, local_grant: Grant
) -> None:
    item = [BatchItem(Operation.GET, "x")]
    with pytest.raises(GrantError, match="reason is required"):
        storage.revoke(SYSTEM_ACTOR, "acme", None, " ")
    changed, _ = storage.revoke(SYSTEM_ACTOR, "acme", None, "incident 42")
    assert [g.status for g in changed] == [GrantStatus.REVOKED]
    with pytest.raises(StorageRefusedError) as refused:
        storage.issue(MEMBER, local_grant.id, item)
    assert refused.value.refusal is Refusal.REVOKED
    assert storage.revoke(SYSTEM_ACTOR, "acme", None, "again")[0] == []  # already revoked: nothing changes
    storage.restore(SYSTEM_ACTOR, "acme", local_grant.name, "resolved")
    assert storage.issue(MEMBER, local_grant.id, item).urls
    actions = [r["action"] for r in _records(runtime) if r["action"].startswith("storage.grant")]
    assert actions == ["storage.grant.registered", "storage.grant.revoked", "storage.grant.restored"]
    revoked = _records(runtime, action="storage.grant.revoked")[0]
    assert revoked["reason"] == "incident 42"
    assert revoked["details"]["from"] == "active"


def test_no_audit_record_no_urls(runtime: Runtime, storage: StorageService, local_grant: Grant) -> None:
    dead = session_factory(create_db_engine("mysql+pymysql://root@127.0.0.1:1/none"))
    appender = GroupCommitAppender(runtime.audit, dead)  # the real appender, on a database that is gone
    try:
        broken = StorageService(runtime.sessions, runtime.audit, appender, storage.states, storage.signers)
        with pytest.raises(StorageRefusedError, match="audit log cannot be written") as refused:
            broken.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, "x")])
        assert refused.value.refusal is Refusal.UNAVAILABLE
    finally:
        appender.close()


class _HeldAppender:
    """The gateway's appender, but each record's commit is only reported once the test lets it."""

    def __init__(self, inner: GroupCommitAppender) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.waiting = threading.Event()

    def submit(self, event: AuditEvent) -> _HeldAppender:
        self.receipt = self.inner.submit(event)
        return self

    def result(self, timeout: float | None = None) -> object:
        self.waiting.set()
        assert self.release.wait(10)
        return self.receipt.result(timeout)


def test_urls_are_returned_only_once_their_record_is_durable(
    runtime: Runtime, storage: StorageService, local_grant: Grant
) -> None:
    held = _HeldAppender(runtime.appender)
    service = StorageService(runtime.sessions, runtime.audit, held, storage.states, storage.signers)
    batches: list[object] = []
    worker = threading.Thread(
        target=lambda: batches.append(service.issue(MEMBER, local_grant.id, [BatchItem(Operation.GET, "x")]))
    )
    worker.start()
    assert held.waiting.wait(10)  # signed already, waiting for the commit
    worker.join(0.3)
    assert worker.is_alive() and batches == []
    held.release.set()
    worker.join(10)
    [batch] = batches
    [record] = _records(runtime, action="storage.urls.issued")
    assert record["id"] == batch.batch_id  # type: ignore[attr-defined]


def test_grant_specs_are_validated() -> None:
    cases = [
        ({"backend": "s3", "bucket": "b-1", "region": "eu-west-1", "external_id": "abc"}, "role_arn"),
        ({"backend": "s3", "bucket": "B", "region": "eu-west-1"}, "bucket"),
        (
            {"backend": "azure", "bucket": "cont-1", "azure_account": "acct", "azure_auth": "stored-policy"},
            "azure_policy_id",
        ),
        ({"backend": "local", "bucket": "data", "prefix": "../x"}, "'..'"),
        ({"backend": "local", "bucket": "data", "ttl_max_seconds": 7200}, "less than or equal to 3600"),
        ({"backend": "local", "bucket": "data", "role_arn": "arn:aws:iam::123456789012:role/r"}, "role_arn: Extra"),
        ({"backend": "ftp", "bucket": "data"}, "backend"),
        ({"backend": "local", "bucket": "data", "surprise": 1}, "surprise"),
    ]
    for values, message in cases:
        with pytest.raises(GrantError, match=message):
            parse_spec(values)


def test_a_grant_this_gateway_could_never_sign_for_is_refused(
    storage: StorageService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3 = parse_spec(
        {
            "backend": "s3",
            "bucket": "b-1",
            "region": "eu-west-1",
            "external_id": "ext-1",
            "role_arn": "arn:aws:iam::123456789012:role/r",
        }
    )
    with pytest.raises(SignerUnavailableError, match="no AWS credentials"):
        storage.connect(SYSTEM_ACTOR, "acme", s3)
    with pytest.raises(SignerUnavailableError, match="GCS service-account key"):
        storage.connect(SYSTEM_ACTOR, "acme", parse_spec({"backend": "gcs", "bucket": "b-1"}))
    assert storage.status("acme") == []
