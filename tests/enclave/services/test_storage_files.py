"""The file browser's use cases: listing a grant's folder and deleting an object, with the tenant's prefix as
the fence (no '..', no other tenant's grant, no unknown grant), each role's permission, a revoked grant, and
the deletion audited before the object goes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, ActorKind
from audit.store.tables import audit_records
from auth.principal import Principal
from auth.roles import Role
from auth.tenants import create_tenant
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from enclave.services.storage import local_store_dir
from storage_connector.backends import parse_spec
from storage_connector.service import GrantRevokedError, StorageGrantNotFoundError
from tenancy.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from tests.conftest import make_settings

OPERATOR = SYSTEM_ACTOR


def access(role: Role, tenant: str = "acme") -> Access:
    principal = Principal(ActorKind.USER, "0123456789ab", tenant, role, email=f"u@{tenant}.test")
    return Access.of(principal, ip="192.0.2.1", user_agent="test", request_id=None)


@pytest.fixture
def services(runtime: Runtime) -> Services:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    built = Services.build(runtime)
    for tenant in ("acme", "globex"):
        spec = parse_spec({"backend": "local", "bucket": "data", "prefix": f"tenants/{tenant}"})
        built.storage.connect(Access.operator(tenant, OPERATOR), spec)
    return built


def _put(runtime: Runtime, tenant: str, key: str, data: bytes = b"x") -> Path:
    path = local_store_dir(runtime.settings) / "data" / "tenants" / tenant / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _records(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        rows = session.execute(select(audit_records.c.body).order_by(audit_records.c.seq))
        bodies = [r.body if isinstance(r.body, dict) else json.loads(r.body) for r in rows]
    return [b for b in bodies if b["action"] == action]


def test_listing_shows_one_level_folders_then_files(runtime: Runtime, services: Services) -> None:
    _put(runtime, "acme", "report.csv", b"12345")
    _put(runtime, "acme", "q1/a.txt")
    _put(runtime, "acme", "q1/deep/b.txt")
    _put(runtime, "acme", "q2/c.txt")
    _put(runtime, "globex", "secret.txt")
    top = services.storage.list_objects(access(Role.VIEWER), "default")
    assert top.prefix == "" and top.folders == ["q1/", "q2/"]
    assert [(f.key, f.size) for f in top.files] == [("report.csv", 5)]
    assert top.store_origin.startswith("http")
    q1 = services.storage.list_objects(access(Role.MEMBER), "default", "q1/")
    assert q1.folders == ["q1/deep/"] and [f.key for f in q1.files] == ["q1/a.txt"]
    assert services.storage.list_objects(access(Role.VIEWER), "default", "q1").prefix == "q1/"  # slash added
    assert services.storage.list_objects(access(Role.VIEWER), "default", "none/").files == []


@pytest.mark.parametrize(
    "prefix", ["../globex/", "q1/../../globex/", "..", "/etc/", "q1//", "%2e%2e/", "..;/globex/", "a\x00b/"]
)
def test_listing_refuses_a_folder_leaving_the_prefix(services: Services, prefix: str) -> None:
    with pytest.raises(InvalidRequestError, match="refused"):
        services.storage.list_objects(access(Role.VIEWER), "default", prefix)


def test_another_tenants_or_an_unknown_grant_is_not_found(services: Services) -> None:
    globex_grant = services.storage.grants(access(Role.VIEWER, "globex"))[0].grant
    for ref in (globex_grant.id, "nope"):
        with pytest.raises(StorageGrantNotFoundError, match="no storage grant"):
            services.storage.list_objects(access(Role.VIEWER), ref)
        with pytest.raises(StorageGrantNotFoundError):
            services.storage.delete_object(access(Role.MEMBER), ref, "x")


def test_each_role_reads_and_deletes_only_as_allowed(runtime: Runtime, services: Services) -> None:
    for role in (Role.AUDITOR, Role.SECURITY_ADMIN):
        with pytest.raises(ForbiddenError, match=r"lacks permission storage\.read"):
            services.storage.list_objects(access(role), "default")
        with pytest.raises(ForbiddenError):
            services.storage.grants(access(role))
    path = _put(runtime, "acme", "keep.txt")
    for role in (Role.VIEWER, Role.AUDITOR, Role.SECURITY_ADMIN):
        with pytest.raises(ForbiddenError, match=r"lacks permission storage\.write"):
            services.storage.delete_object(access(role), "default", "keep.txt")
    assert path.exists()
    assert len(_records(runtime, "storage.grant.denied")) >= 5  # each refusal is on the record


def test_delete_is_audited_then_done(runtime: Runtime, services: Services) -> None:
    path = _put(runtime, "acme", "q1/old.csv")
    services.storage.delete_object(access(Role.MEMBER), "default", "q1/old.csv")
    assert not path.exists()
    (record,) = _records(runtime, "storage.object.deleted")
    assert record["outcome"] == "success" and "q1/old.csv" not in json.dumps(record)  # the key's digest only
    with pytest.raises(NotFoundError, match="no such object"):
        services.storage.delete_object(access(Role.MEMBER), "default", "q1/old.csv")
    assert len(_records(runtime, "storage.object.deleted")) == 1


@pytest.mark.parametrize("key", ["../globex/secret.txt", "q1/../../globex/secret.txt", "/abs", "", "a//b"])
def test_delete_refuses_a_key_leaving_the_prefix(runtime: Runtime, services: Services, key: str) -> None:
    secret = _put(runtime, "globex", "secret.txt")
    with pytest.raises(InvalidRequestError, match="key refused"):
        services.storage.delete_object(access(Role.ADMIN), "default", key)
    assert secret.exists()
    assert _records(runtime, "storage.object.deleted") == []


def test_a_revoked_grant_lists_and_deletes_nothing(runtime: Runtime, services: Services) -> None:
    path = _put(runtime, "acme", "a.txt")
    admin = access(Role.ADMIN)
    services.storage.revoke(admin, "default", "incident")
    with pytest.raises(GrantRevokedError, match="revoked"):
        services.storage.list_objects(access(Role.VIEWER), "default")
    with pytest.raises(GrantRevokedError):
        services.storage.delete_object(access(Role.MEMBER), "default", "a.txt")
    assert path.exists()
    services.storage.restore(admin, "default", "resolved")
    assert [f.key for f in services.storage.list_objects(access(Role.VIEWER), "default").files] == ["a.txt"]


def test_delete_on_a_cloud_grant_is_refused_clearly(sqlite_url: str, tmp_path: Path) -> None:
    key = base64.b64encode(b"k" * 64).decode()  # stored-policy SAS is signed in memory: no Azure is reached
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "data", storage_azure_account_key=key))
    try:
        storage = Services.build(runtime).storage
        spec = parse_spec(
            {
                "backend": "azure",
                "name": "blobs",
                "bucket": "acme-data",
                "azure_account": "devstoreaccount1",
                "azure_policy_id": "enclave",
                "endpoint": "http://127.0.0.1:10000/devstoreaccount1",
            }
        )
        storage.connect(Access.operator("acme", OPERATOR), spec)
        with pytest.raises(ConflictError, match="cannot be deleted from Enclave yet"):
            storage.delete_object(access(Role.MEMBER), "blobs", "x.txt")
    finally:
        runtime.close()
