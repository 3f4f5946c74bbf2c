"""Audit proofs, the key history and the bucket sync over HTTP (SQLite and MariaDB, the local store with real
bytes): the answers verify offline with only the public key, permissions are the documented ones, every state
change is audited, a revoked grant makes the sync fail visibly, and bad input is refused with a clear error."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit.bucket import DirectoryReader, bucket_keys, verify_bucket
from audit.store.tables import audit_records
from audit.treeproofs import ConsistencyProof, InclusionProof
from audit.verify_proofs import verify_consistency_proof, verify_inclusion_proof
from auth.roles import Role
from enclave.runtime import Runtime
from enclave.services.storage import local_store_dir
from tests.enclave.api.helpers import bearer, issue_key

LOCAL_GRANT = {"backend": "local", "bucket": "data", "prefix": "tenants/acme", "reason": "audit sync"}


def _actions(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        bodies = session.execute(
            select(audit_records.c.body).where(audit_records.c.tenant_id == "acme").order_by(audit_records.c.seq)
        ).scalars()
        return [orjson.loads(body)["action"] for body in bodies]


def _log_size(runtime: Runtime) -> int:
    return len(_actions(runtime))


def test_an_inclusion_proof_verifies_offline_and_a_forged_one_does_not(runtime: Runtime, dedicated: TestClient) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    size = _log_size(runtime)
    answer = dedicated.get(f"/api/v1/audit/proofs/inclusion/{size}", headers=auditor)
    assert answer.status_code == 200, answer.text
    proof = InclusionProof.from_json(answer.json())
    report = verify_inclusion_proof(proof, runtime.signing_key.public_key())
    assert report.ok, report.problems
    assert f"record {size} of acme (auth.apikey.created" in report.checked[0]
    forged = answer.json()
    forged["record"]["body"]["action"] = "audit.demo"
    assert not verify_inclusion_proof(InclusionProof.from_json(forged), runtime.signing_key.public_key()).ok


def test_a_consistency_proof_verifies_against_the_earlier_head(runtime: Runtime, dedicated: TestClient) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    earlier = InclusionProof.from_json(
        dedicated.get("/api/v1/audit/proofs/inclusion/1", headers=auditor).json()
    ).tree_head
    for _ in range(3):  # the log grows (each API key is audited)
        issue_key(runtime, "acme", Role.VIEWER)
    answer = dedicated.get(f"/api/v1/audit/proofs/consistency/{earlier.seq}", headers=auditor)
    assert answer.status_code == 200, answer.text
    proof = ConsistencyProof.from_json(answer.json())
    assert proof.tree_head.seq == earlier.seq + 3
    report = verify_consistency_proof(proof, runtime.signing_key.public_key(), previous=earlier)
    assert report.ok, report.problems
    assert "held by the verifier" in report.checked[0]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("inclusion/0", 422, "greater than or equal to 1"),
        ("inclusion/-1", 422, "greater than or equal to 1"),
        ("inclusion/99999", 404, "there is no record 99999"),
        ("inclusion/abc", 422, "valid integer"),
        ("inclusion/true", 422, "valid integer"),
        ("inclusion/1.5", 422, "valid integer"),
        (f"inclusion/{2**63}", 422, "less than or equal to"),
        ("consistency/0", 422, "greater than or equal to 1"),
        ("consistency/99999", 404, "it never had 99999"),
        ("consistency/false", 422, "valid integer"),
    ],
)
def test_bad_proof_requests_are_refused_clearly(
    runtime: Runtime, dedicated: TestClient, path: str, status: int, words: str
) -> None:
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    answer = dedicated.get(f"/api/v1/audit/proofs/{path}", headers=auditor)
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_proofs_need_audit_read(runtime: Runtime, dedicated: TestClient) -> None:
    viewer = bearer(issue_key(runtime, "acme", Role.VIEWER))
    assert dedicated.get("/api/v1/audit/proofs/inclusion/1", headers=viewer).status_code == 403
    assert dedicated.get("/api/v1/audit/proofs/inclusion/1").status_code == 401


def test_the_key_history_is_public_and_starts_with_the_gateways_key(runtime: Runtime, dedicated: TestClient) -> None:
    answer = dedicated.get("/api/v1/audit/key-history")
    assert answer.status_code == 200
    document = answer.json()
    assert document["type"] == "audit-key-history"
    assert [entry["key_id"] for entry in document["entries"]] == [runtime.key_id]


def _connect(client: TestClient, runtime: Runtime) -> dict[str, str]:
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    response = client.post("/api/v1/storage/grants", headers=admin, json=LOCAL_GRANT)
    assert response.status_code == 201, response.text
    return admin


def test_sync_enable_run_status_and_disable_over_the_api(runtime: Runtime, dedicated: TestClient) -> None:
    _connect(dedicated, runtime)
    security = bearer(issue_key(runtime, "acme", Role.SECURITY_ADMIN))
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    assert dedicated.post("/api/v1/audit/sync", headers=auditor, json={"grant": "default"}).status_code == 403
    enabled = dedicated.post("/api/v1/audit/sync", headers=security, json={"grant": "default"})
    assert enabled.status_code == 201, enabled.text
    assert enabled.json()["state"] == "never-synced" and enabled.json()["prefix"] == "enclave-audit/"
    again = dedicated.post("/api/v1/audit/sync", headers=security, json={"grant": "default"})
    assert again.status_code == 409 and "already syncs" in again.text

    ran = dedicated.post("/api/v1/audit/sync/default/run", headers=security)
    assert ran.status_code == 200, ran.text
    assert ran.json()["synced"] is True and ran.json()["error"] is None
    (status,) = dedicated.get("/api/v1/audit/sync", headers=auditor).json()
    assert status["state"] == "ok" and status["synced_size"] == ran.json()["size"]

    bucket = local_store_dir(runtime.settings) / "data" / "tenants" / "acme" / "enclave-audit"
    reader = DirectoryReader(bucket)
    report = verify_bucket(reader, bucket_keys(reader, [runtime.signing_key.public_key()]))
    assert report.ok, report.problems
    assert report.latest is not None and report.latest.seq == ran.json()["size"]

    assert dedicated.delete("/api/v1/audit/sync/default", headers=security).status_code == 204
    assert dedicated.get("/api/v1/audit/sync", headers=auditor).json() == []
    assert dedicated.delete("/api/v1/audit/sync/default", headers=security).status_code == 404
    actions = _actions(runtime)
    assert actions.count("audit.sync.enabled") == 1 and actions.count("audit.sync.disabled") == 1


def test_a_sync_into_a_revoked_grant_fails_visibly(runtime: Runtime, dedicated: TestClient) -> None:
    admin = _connect(dedicated, runtime)
    assert dedicated.post("/api/v1/audit/sync", headers=admin, json={"grant": "default"}).status_code == 201
    revoked = dedicated.post("/api/v1/storage/grants/default/revoke", headers=admin, json={"reason": "incident"})
    assert revoked.status_code == 200, revoked.text
    ran = dedicated.post("/api/v1/audit/sync/default/run", headers=admin).json()
    assert ran["synced"] is False and "grant default is revoked" in ran["error"]
    (status,) = dedicated.get("/api/v1/audit/sync", headers=admin).json()
    assert status["state"] == "failing" and status["failures"] == 1
    assert "grant default is revoked" in status["failure"]
    assert "audit.sync.failed" in _actions(runtime)
    ready = dedicated.get("/readyz").json()
    assert ready["status"] == "ready"  # a customer's bucket does not take the gateway out of service
    (line,) = ready["detail"]["audit_sync"]
    assert "failing (1x): grant default is revoked" in line
    restored = dedicated.post("/api/v1/storage/grants/default/restore", headers=admin, json={"reason": "fixed"})
    assert restored.status_code == 200, restored.text
    assert dedicated.post("/api/v1/audit/sync/default/run", headers=admin).json()["synced"] is True
    assert "audit.sync.recovered" in _actions(runtime)
    assert dedicated.get("/readyz").json()["detail"]["audit_sync"] == []


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "grant"),
        ({"grant": "nope"}, 404, "no storage grant 'nope'"),
        ({"grant": "default", "prefix": "/abs/"}, 422, "prefix"),
        ({"grant": "default", "prefix": "no-slash"}, 422, "prefix"),
        ({"grant": "default", "prefix": "a//b/"}, 422, "prefix"),
        ({"grant": "default", "prefix": "../up/"}, 400, "prefix"),
        ({"grant": "default", "prefix": 7}, 422, "prefix"),
        ({"grant": True}, 422, "grant"),
        ({"grant": "default", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_sync_requests_are_refused_clearly(
    runtime: Runtime, dedicated: TestClient, body: dict[str, Any], status: int, words: str
) -> None:
    admin = _connect(dedicated, runtime)
    answer = dedicated.post("/api/v1/audit/sync", headers=admin, json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert "audit.sync.enabled" not in _actions(runtime)


def test_running_a_sync_that_is_not_enabled_is_refused(runtime: Runtime, dedicated: TestClient) -> None:
    admin = _connect(dedicated, runtime)
    answer = dedicated.post("/api/v1/audit/sync/default/run", headers=admin)
    assert answer.status_code == 400 and "does not sync its audit log" in answer.text
    assert dedicated.post("/api/v1/audit/sync/nope/run", headers=admin).status_code == 404
    assert dedicated.post("/api/v1/audit/sync/a%2Fb/run", headers=admin).status_code in (404, 422)
