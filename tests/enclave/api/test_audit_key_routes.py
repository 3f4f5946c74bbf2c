"""The public key that verifies exports: served to anyone, and it is the key the exports are signed with."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from audit.signing import load_public_key
from audit.verify import verify_export
from auth.roles import Role
from enclave.runtime import Runtime
from tests.enclave.api.helpers import bearer, issue_key


def test_public_key_needs_no_credentials_and_verifies_an_export(runtime: Runtime, dedicated: TestClient) -> None:
    response = dedicated.get("/api/v1/audit/public-key")
    assert response.status_code == 200 and response.headers["x-enclave-key-id"] == runtime.key_id
    auditor = bearer(issue_key(runtime, "acme", Role.AUDITOR))
    export = dedicated.get("/api/v1/audit/export", headers=auditor)
    report = verify_export(io.BytesIO(export.content), load_public_key(response.text))
    assert report.ok, report.problems
