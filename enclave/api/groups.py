"""The HTTP API's router groups (enclave/http/groups.py): probes (`/healthz`, `/readyz`), public, the local
store's signed object URLs, tenant-authenticated and operator, under /api/v1; and the tenant directory's SCIM
service under /scim/v2, which accepts SCIM tokens only."""

from __future__ import annotations

from fastapi import Depends

from enclave.api.routes import (
    api_keys,
    audit,
    audit_key,
    audit_proofs,
    health,
    scim,
    scim_tokens,
    sessions,
    sso,
    storage,
    storage_local,
    tenants,
    users,
)
from enclave.api.scim import SCIM_PREFIX, ScimDirectory, authenticate_scim
from enclave.http.deps import authenticate_request, require_operator, tenant_principal
from enclave.http.groups import RouterGroup
from enclave.http.problems import problem_responses

API_PREFIX = "/api/v1"
AUTHENTICATED_PROBLEMS = problem_responses(400, 401, 403, 413, 422, 429, 503)

API_GROUPS: tuple[RouterGroup, ...] = (
    RouterGroup("probes", "", (health.router,)),
    RouterGroup("public", API_PREFIX, (audit_key.router,)),
    RouterGroup("objects", "", (storage_local.router,)),  # the local store: each URL's signature authorises it
    RouterGroup(
        "tenant",
        API_PREFIX,
        (
            api_keys.router,
            audit.router,
            audit_proofs.router,
            sso.router,
            sessions.router,
            users.router,
            storage.router,
            scim_tokens.router,
        ),
        dependencies=(Depends(tenant_principal),),
        authenticate=authenticate_request,
        responses=AUTHENTICATED_PROBLEMS,
    ),
    RouterGroup(
        "operator",
        API_PREFIX,
        (tenants.router,),
        dependencies=(Depends(require_operator),),
        authenticate=authenticate_request,
        responses=AUTHENTICATED_PROBLEMS,
    ),
    RouterGroup("scim", SCIM_PREFIX, (scim.router,), dependencies=(ScimDirectory,), authenticate=authenticate_scim),
)
