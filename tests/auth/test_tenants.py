"""Tenants in auth/: host names by full match, conflicts as their own kind of error."""

from __future__ import annotations

import pytest

from audit.events import SYSTEM_ACTOR
from auth.tenants import TenantConflictError, TenantError, create_tenant, tenant_for_host
from enclave.db import transaction
from enclave.runtime import Runtime
from tenancy.errors import ErrorKind


@pytest.mark.parametrize(
    "hostname", ["delta.example.com\n", "delta.example.com.", "x@delta.example.com", "DELTA.example.com"]
)
def test_host_names_are_matched_in_full(runtime: Runtime, hostname: str) -> None:
    with transaction(runtime.sessions) as session, pytest.raises(TenantError, match="not a valid host name"):
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "delta", hostname=hostname)


def test_a_taken_host_name_is_a_conflict(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "delta", hostname="delta.example.com")
    with transaction(runtime.sessions) as session, pytest.raises(TenantConflictError) as taken:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "echo", hostname="delta.example.com")
    assert taken.value.kind is ErrorKind.CONFLICT
    with runtime.sessions() as session:
        found = tenant_for_host(session, "Delta.Example.com")
    assert found is not None and found.id == "delta"
