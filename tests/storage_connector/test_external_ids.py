"""ExternalIds: Enclave generates one per tenant and grant name (audited once), shows the same one again, and
an S3 grant connects only with the one generated for its tenant and name. SQLite and MariaDB."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, Actor, ActorKind
from audit.store.tables import audit_records
from enclave.runtime import Runtime
from storage_connector.backends import parse_spec
from storage_connector.external_ids import ExternalIdConflictError
from storage_connector.grants import GrantError
from storage_connector.s3 import EXTERNAL_ID_PATTERN
from storage_connector.service import StorageService
from tests.support.aws import use_platform_aws_credentials

CUSTOMER_IT = Actor(ActorKind.USER, "it-admin@acme.example")


def _spec(**values: Any) -> Any:
    return parse_spec(
        {
            "backend": "s3",
            "bucket": "acme-data",
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::123456789012:role/enclave-access",
            **values,
        }
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The gateway has AWS credentials (connect refuses an S3 grant on a gateway without any)."""
    use_platform_aws_credentials(monkeypatch, tmp_path)


def _generated(runtime: Runtime, tenant: str = "acme") -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(audit_records.c.body)
            .where(audit_records.c.tenant_id == tenant, audit_records.c.action == "storage.externalid.generated")
            .order_by(audit_records.c.seq)
        )
        return [r.body if isinstance(r.body, dict) else json.loads(r.body) for r in rows]


def test_generated_once_per_tenant_and_grant_name_then_shown_again(runtime: Runtime, storage: StorageService) -> None:
    first = storage.external_id(CUSTOMER_IT, "acme", "default")
    assert first.created and first.tenant == "acme" and first.grant == "default"
    assert re.fullmatch(r"[0-9a-f]{32}", first.value)  # 128 random bits
    assert re.fullmatch(EXTERNAL_ID_PATTERN, first.value)  # AssumeRole's own rule
    again = storage.external_id(SYSTEM_ACTOR, "acme", "default")
    assert (again.value, again.created, again.created_by) == (first.value, False, CUSTOMER_IT.id)
    other_grant = storage.external_id(CUSTOMER_IT, "acme", "archive")
    other_tenant = storage.external_id(CUSTOMER_IT, "globex", "default")
    assert len({first.value, other_grant.value, other_tenant.value}) == 3
    [record, _] = _generated(runtime)
    assert record["actor"]["id"] == CUSTOMER_IT.id
    assert record["details"] == {"grant_name": "default", "external_id": first.value}  # not a secret (AWS)
    assert len(_generated(runtime, "globex")) == 1


def test_bad_names_and_unknown_tenants_are_refused(storage: StorageService) -> None:
    with pytest.raises(GrantError, match="lower-case letters"):
        storage.external_id(CUSTOMER_IT, "acme", "Default")
    with pytest.raises(GrantError, match="lower-case letters"):
        storage.external_id(CUSTOMER_IT, "acme", "default\n")
    with pytest.raises(GrantError, match="no such tenant"):
        storage.external_id(CUSTOMER_IT, "nosuch", "default")


def test_concurrent_requests_get_one_id(runtime: Runtime, storage: StorageService) -> None:
    values: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            values.append(storage.external_id(CUSTOMER_IT, "acme", "race").value)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(values)) == 1 and len(values) == 6
    assert len(_generated(runtime)) == 1


@pytest.mark.usefixtures("aws")
def test_an_s3_grant_connects_only_with_the_id_enclave_generated(storage: StorageService) -> None:
    with pytest.raises(ExternalIdConflictError, match="enclave storage external-id --tenant acme --grant default"):
        storage.connect(SYSTEM_ACTOR, "acme", _spec())
    generated = storage.external_id(CUSTOMER_IT, "acme", "default").value
    globex = storage.external_id(CUSTOMER_IT, "globex", "default").value
    for chosen in ("customer-picked-id", globex, storage.external_id(CUSTOMER_IT, "acme", "archive").value):
        with pytest.raises(ExternalIdConflictError, match="not the one Enclave generated"):
            storage.connect(SYSTEM_ACTOR, "acme", _spec(external_id=chosen))
    assert storage.status("acme") == []
    grant = storage.connect(SYSTEM_ACTOR, "acme", _spec(), "BYOB kit applied")
    assert grant.external_id == generated
    archive = storage.connect(SYSTEM_ACTOR, "acme", _spec(name="archive", external_id=None))
    assert archive.external_id != generated
    explicit = storage.connect(SYSTEM_ACTOR, "globex", _spec(external_id=globex))
    assert explicit.external_id == globex


def test_grants_without_a_trust_need_no_external_id(storage: StorageService) -> None:
    grant = storage.connect(SYSTEM_ACTOR, "acme", parse_spec({"backend": "local"}))
    assert grant.external_id is None
