"""What the SCIM tests share: the directory's access (a SCIM token's principal), the tenant's role mapping,
recorded requests with the ids of the test's own resources put in, and reading the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, ActorKind
from audit.store.tables import audit_records
from auth.principal import Principal
from auth.roles import Role, ServiceRole
from auth.sso.config import SignInPolicy
from auth.sso.registry import set_policy
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access

TENANT = "acme"
BASE = "https://acme.example.com/scim/v2"
TOKEN_ID = "0123456789ab"
# the tenant maps its directory's groups (and, for sign-ins of users the directory does not provision, the
# `groups` claim) to roles
MAPPED = SignInPolicy(
    role_claim="groups", role_map={"Enclave Admins": Role.ADMIN, "Auditors": Role.AUDITOR, "Staff": Role.MEMBER}
)


def directory(tenant: str = TENANT, token_id: str = TOKEN_ID) -> Access:
    """The access a SCIM token of `tenant` gives (as the /scim/v2 group builds it)."""
    principal = Principal(ActorKind.SYSTEM, f"scim:{token_id}", tenant, ServiceRole.SCIM)
    return Access.of(principal, ip="192.0.2.7", user_agent="Okta SCIM Client 1.0.0", request_id=None)


def map_roles(runtime: Runtime, policy: SignInPolicy = MAPPED, tenant: str = TENANT) -> None:
    with transaction(runtime.sessions) as session:
        set_policy(session, runtime.audit, SYSTEM_ACTOR, tenant, policy)


def with_ids(payload: Any, ids: dict[str, str]) -> Any:
    """`payload` with every string equal to a key of `ids` replaced (a recorded request's ids by the test's)."""
    text = json.dumps(payload)
    for old, new in ids.items():
        text = text.replace(old, new)
    return json.loads(text)


def user_payload(user_name: str, *, email: str | None = None, **more: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
    if email is not None:
        payload["emails"] = [{"value": email, "type": "work", "primary": True}]
    return payload | more


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def audit_events(runtime: Runtime, action: str, tenant: str = TENANT) -> list[dict[str, Any]]:
    """The bodies of the tenant's audit records of `action`, oldest first."""
    with runtime.sessions() as session:
        bodies = session.execute(
            select(audit_records.c.body)
            .where(audit_records.c.tenant_id == tenant, audit_records.c.action == action)
            .order_by(audit_records.c.seq)
        ).scalars()
        return [json.loads(body) for body in bodies]
