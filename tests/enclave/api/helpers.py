"""Shared helpers for the API tests: keys issued straight through auth/, bearer headers, a shared gateway."""

from __future__ import annotations

from datetime import timedelta

from audit.events import SYSTEM_ACTOR
from auth.apikeys import create_api_key
from auth.roles import Role
from enclave.db import transaction
from enclave.runtime import Runtime

OPERATOR_TOKEN = "op-Jq7vW2xT9mKp4LzR8cYn3BfH6dGs5AeU1iO0"  # fixed, strong enough for the settings check


def issue_key(
    runtime: Runtime,
    tenant: str,
    role: Role,
    ttl: timedelta = timedelta(days=1),
    max_ttl: timedelta = timedelta(days=365),
) -> str:
    with transaction(runtime.sessions) as session:
        issued = create_api_key(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id=tenant, role=role, name="test", ttl=ttl, max_ttl=max_ttl
        )
    return issued.secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_id(token: str) -> str:
    return token.split("_")[1]
