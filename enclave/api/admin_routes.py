"""Tenant administration over HTTP: tenants (platform operator) and API keys (tenant admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from audit.events import Actor, ActorKind
from audit.store.log import AuditWriteError
from auth.apikeys import ApiKeyError, create_api_key, list_api_keys, revoke_api_key
from auth.principal import Principal
from auth.roles import Permission, Role
from auth.tenants import TenantError, create_tenant, list_tenants
from enclave.api.deps import RuntimeDep, TenantAccess, require, require_operator
from enclave.db import transaction
from enclave.settings import Mode
from tenancy.names import TENANT_NAME_MAX, TENANT_NAME_MIN, TENANT_NAME_SCHEMA_PATTERN

router = APIRouter(prefix="/api/v1", tags=["admin"])
OPERATOR_ACTOR = Actor(ActorKind.OPERATOR, "operator")


class TenantIn(BaseModel):
    id: str = Field(pattern=TENANT_NAME_SCHEMA_PATTERN, min_length=TENANT_NAME_MIN, max_length=TENANT_NAME_MAX)
    display_name: str | None = Field(None, max_length=200)
    hostname: str | None = Field(None, max_length=253)
    default_role: Role = Role.VIEWER


class TenantOut(BaseModel):
    id: str
    display_name: str
    hostname: str | None
    default_role: str
    created_at: datetime


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    ttl_days: int | None = Field(None, ge=1, le=3650)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedApiKeyOut(ApiKeyOut):
    secret: str = Field(description="the key itself: shown once, store it now")


def _refuse_unaudited() -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the audit log cannot be written; nothing was changed")


@router.post("/tenants", status_code=201, response_model=TenantOut, summary="Add a tenant (platform operator)")
def add_tenant(
    body: TenantIn, runtime: RuntimeDep, _operator: Annotated[Principal, Depends(require_operator)]
) -> TenantOut:
    if runtime.settings.mode is Mode.DEDICATED:
        raise HTTPException(status.HTTP_409_CONFLICT, "a dedicated gateway serves exactly its configured tenant")
    try:
        with transaction(runtime.sessions) as session:
            tenant = create_tenant(
                session,
                runtime.audit,
                OPERATOR_ACTOR,
                body.id,
                display_name=body.display_name,
                hostname=body.hostname,
                default_role=body.default_role,
            )
            return TenantOut.model_validate(tenant, from_attributes=True)
    except TenantError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except AuditWriteError:
        raise _refuse_unaudited() from None


@router.get("/tenants", response_model=list[TenantOut], summary="List tenants (platform operator)")
def get_tenants(runtime: RuntimeDep, _operator: Annotated[Principal, Depends(require_operator)]) -> list[TenantOut]:
    with runtime.sessions() as session:
        return [TenantOut.model_validate(t, from_attributes=True) for t in list_tenants(session)]


ApiKeysAdmin = Annotated[TenantAccess, Depends(require(Permission.APIKEYS_ADMIN))]


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="The tenant's API keys (no secrets)")
def get_api_keys(runtime: RuntimeDep, access: ApiKeysAdmin) -> list[ApiKeyOut]:
    with runtime.sessions() as session:
        return [ApiKeyOut.model_validate(k, from_attributes=True) for k in list_api_keys(session, access.tenant)]


@router.post("/api-keys", status_code=201, response_model=IssuedApiKeyOut, summary="Create an API key")
def post_api_key(body: ApiKeyIn, runtime: RuntimeDep, access: ApiKeysAdmin) -> IssuedApiKeyOut:
    ttl, max_ttl = runtime.settings.apikey_lifetime(body.ttl_days)
    try:
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
            )
            out = ApiKeyOut.model_validate(issued.key, from_attributes=True)
    except ApiKeyError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except AuditWriteError:
        raise _refuse_unaudited() from None
    return IssuedApiKeyOut(**out.model_dump(), secret=issued.secret)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
def delete_api_key(key_id: str, runtime: RuntimeDep, access: ApiKeysAdmin) -> ApiKeyOut:
    try:
        with transaction(runtime.sessions) as session:
            key = revoke_api_key(session, runtime.audit, access.actor, tenant_id=access.tenant, key_id=key_id)
            return ApiKeyOut.model_validate(key, from_attributes=True)
    except ApiKeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AuditWriteError:
        raise _refuse_unaudited() from None
