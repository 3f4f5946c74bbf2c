"""The tenant's API keys (tenant admins). A key created with a key is bound to it (see auth/apikeys.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from audit.events import ActorKind
from auth.apikeys import KEY_ID_SCHEMA_PATTERN, create_api_key, list_api_keys, revoke_api_key
from auth.roles import Permission
from enclave.api.deps import RuntimeDep, TenantAccess, require
from enclave.api.models.api_keys import ApiKeyIn, ApiKeyOut, IssuedApiKeyOut
from enclave.api.problems import problem_responses
from enclave.api.routing import resource_router
from enclave.db import transaction
from enclave.runtime import Runtime

router = resource_router(prefix="/api-keys", tags=["api-keys"])
ApiKeysAdmin = Annotated[TenantAccess, Depends(require(Permission.APIKEYS_ADMIN))]


@router.get("", response_model=list[ApiKeyOut], summary="The tenant's API keys (no secrets)")
def get_api_keys(runtime: RuntimeDep, access: ApiKeysAdmin) -> list[ApiKeyOut]:
    with runtime.sessions() as session:
        return [ApiKeyOut.model_validate(k, from_attributes=True) for k in list_api_keys(session, access.tenant)]


@router.post(
    "",
    status_code=201,
    response_model=IssuedApiKeyOut,
    summary="Create an API key",
    responses=problem_responses(400),
)
def post_api_key(body: ApiKeyIn, runtime: RuntimeDep, access: ApiKeysAdmin) -> IssuedApiKeyOut:
    return issue_api_key(runtime, access, body)


def issue_api_key(runtime: Runtime, access: TenantAccess, body: ApiKeyIn) -> IssuedApiKeyOut:
    """The key `body` asks for, created by `access`'s principal (audited); a key created with a key is bound to
    it: it cannot outlive it and goes when it is revoked. Callers check first who may ask for which role."""
    ttl, max_ttl = runtime.settings.apikey_lifetime(body.ttl_days)
    creator = access.principal
    parent_id = creator.id if creator.kind is ActorKind.API_KEY else None
    with transaction(runtime.sessions) as session:
        issued = create_api_key(
            session,
            runtime.audit,
            access.actor,
            tenant_id=access.tenant,
            role=body.role,
            name=body.name,
            ttl=ttl,
            max_ttl=max_ttl,
            parent_id=parent_id,
            shorten_to_parent=body.ttl_days is None,  # the default fits the creator; an explicit ask must
        )
        out = ApiKeyOut.model_validate(issued.key, from_attributes=True)
    return IssuedApiKeyOut(**out.model_dump(), secret=issued.secret)


@router.delete(
    "/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key and every key it created",
    responses=problem_responses(404, 409),
)
def delete_api_key(
    key_id: Annotated[str, Path(pattern=KEY_ID_SCHEMA_PATTERN, description="the key's 12-hex id")],
    runtime: RuntimeDep,
    access: ApiKeysAdmin,
) -> ApiKeyOut:
    with transaction(runtime.sessions) as session:
        key = revoke_api_key(session, runtime.audit, access.actor, tenant_id=access.tenant, key_id=key_id)
        return ApiKeyOut.model_validate(key, from_attributes=True)
