"""The tenant's API keys (tenant admins). A key created with a key is bound to it (see auth/apikeys.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from auth.apikeys import KEY_ID_SCHEMA_PATTERN
from enclave.api.models.api_keys import ApiKeyIn, ApiKeyOut, IssuedApiKeyOut
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/api-keys", tags=["api-keys"])
KeyId = Annotated[str, Path(pattern=KEY_ID_SCHEMA_PATTERN, description="the key's 12-hex id")]


@router.get("", response_model=list[ApiKeyOut], summary="The tenant's API keys (no secrets)")
def get_api_keys(services: ServicesDep, access: AccessDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(key) for key in services.api_keys.list(access)]


@router.post(
    "",
    status_code=201,
    response_model=IssuedApiKeyOut,
    summary="Create an API key",
    description="A key created with an API key is bound to it: it cannot outlive it (an explicit `ttl_days` "
    "past the creating key's remaining lifetime gets 400; without `ttl_days` the default is shortened to fit) "
    "and it is revoked with it.",
    responses=problem_responses(400),
)
def post_api_key(body: ApiKeyIn, services: ServicesDep, access: AccessDep) -> IssuedApiKeyOut:
    issued = services.api_keys.create(access, role=body.role, name=body.name, ttl_days=body.ttl_days)
    return IssuedApiKeyOut.of_issued(issued)


@router.delete(
    "/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key and every key it created",
    responses=problem_responses(404, 409),
)
def delete_api_key(key_id: KeyId, services: ServicesDep, access: AccessDep) -> ApiKeyOut:
    return ApiKeyOut.of(services.api_keys.revoke(access, key_id))
