"""Fixtures for the storage connector: a gateway runtime's storage service, principals, a second tenant."""

from __future__ import annotations

import pytest
import redis

from audit.events import SYSTEM_ACTOR, ActorKind
from auth.principal import Principal
from auth.roles import Role
from auth.tenants import create_tenant
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.storage import open_storage_service
from storage_connector.backends import parse_spec
from storage_connector.grants import Grant
from storage_connector.service import StorageService

REDIS_URL = "redis://127.0.0.1:6379/0"


def principal(role: Role, tenant: str = "acme", user: str = "u1") -> Principal:
    return Principal(ActorKind.USER, user, tenant, role, email=f"{user}@{tenant}.example")


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"Redis at 127.0.0.1:6379 is not answering ({exc}); run scripts/services.sh")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def storage(runtime: Runtime) -> StorageService:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    return open_storage_service(runtime)


@pytest.fixture
def local_grant(storage: StorageService) -> Grant:
    spec = parse_spec({"backend": "local", "bucket": "data", "prefix": "tenants/acme"})
    return storage.connect(SYSTEM_ACTOR, "acme", spec, "test set-up")
