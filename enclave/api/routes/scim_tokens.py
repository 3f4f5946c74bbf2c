"""The tenant's SCIM tokens and its directory's provisioning status (tenant admins: `users.admin`). The SCIM
service itself is /scim/v2 (enclave/api/routes/scim.py), which only a SCIM token may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from auth.scim.tokens import SCIM_ID_SCHEMA_PATTERN
from enclave.api.models.scim import (
    DirectoryStatusOut,
    IssuedScimTokenOut,
    ScimTokenIn,
    ScimTokenOut,
    ScimTokenRotationIn,
)
from enclave.api.scim import SCIM_PREFIX
from enclave.http.deps import AccessDep, ServicesDep, host_tenant
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/scim", tags=["scim"])
TokenId = Annotated[str, Path(pattern=SCIM_ID_SCHEMA_PATTERN, description="the token's 12-hex id")]


def _scim_base_url(request: Request) -> str:
    tenant = host_tenant(request)
    origin = tenant.origin if tenant is not None and tenant.origin else ""
    return f"{origin}{SCIM_PREFIX}"


@router.get("/status", response_model=DirectoryStatusOut, summary="The directory's provisioning: counts, tokens")
def get_status(services: ServicesDep, access: AccessDep) -> DirectoryStatusOut:
    return DirectoryStatusOut.of(services.scim.status(access))


@router.get("/tokens", response_model=list[ScimTokenOut], summary="The tenant's SCIM tokens (no secrets)")
def get_tokens(services: ServicesDep, access: AccessDep) -> list[ScimTokenOut]:
    return [ScimTokenOut.of(token) for token in services.scim.tokens(access)]


@router.post(
    "/tokens",
    status_code=201,
    response_model=IssuedScimTokenOut,
    summary="Create a SCIM token for the tenant's directory",
    description="The token is accepted on /scim/v2 only, and nothing else is accepted there. Its secret is "
    "returned once.",
    responses=problem_responses(400),
)
def post_token(request: Request, body: ScimTokenIn, services: ServicesDep, access: AccessDep) -> IssuedScimTokenOut:
    issued = services.scim.create_token(access, name=body.name, ttl_days=body.ttl_days)
    return IssuedScimTokenOut.of_issued(issued, _scim_base_url(request))


@router.post(
    "/tokens/{token_id}/rotate",
    status_code=201,
    response_model=IssuedScimTokenOut,
    summary="Replace a SCIM token: the old one keeps working for the overlap",
    responses=problem_responses(404, 409),
)
def rotate_token(
    request: Request, token_id: TokenId, body: ScimTokenRotationIn, services: ServicesDep, access: AccessDep
) -> IssuedScimTokenOut:
    issued = services.scim.rotate_token(access, token_id, overlap_hours=body.overlap_hours)
    return IssuedScimTokenOut.of_issued(issued, _scim_base_url(request))


@router.delete(
    "/tokens/{token_id}",
    response_model=ScimTokenOut,
    summary="Revoke a SCIM token at once",
    responses=problem_responses(404, 409),
)
def delete_token(token_id: TokenId, services: ServicesDep, access: AccessDep) -> ScimTokenOut:
    return ScimTokenOut.of(services.scim.revoke_token(access, token_id))
