"""Request dependencies: the runtime, the authenticated principal, and the tenant it may act on.

The tenant of a request comes only from its principal (and, in shared mode, must agree with the host name);
never from the request body or query."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from audit.events import Actor
from auth.apikeys import KEY_PREFIX, AuthenticationError, authenticate_api_key
from auth.principal import OPERATOR, Principal
from auth.roles import Permission
from auth.tenants import tenant_for_host
from enclave.db import transaction
from enclave.logging import request_id_var
from enclave.runtime import Runtime
from enclave.settings import Mode


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <API key>'")
    return token.strip()


def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    token = _bearer(request)
    client_ip = request.client.host if request.client else None
    operator_token = runtime.settings.operator_token
    if operator_token is not None and hmac.compare_digest(token.encode(), operator_token.get_secret_value().encode()):
        return OPERATOR
    if not token.startswith(KEY_PREFIX):
        raise _unauthorized("unrecognised bearer token")
    refused: AuthenticationError | None = None
    with transaction(runtime.sessions) as session:
        try:
            principal = authenticate_api_key(session, runtime.audit, token, ip=client_ip)
        except AuthenticationError as exc:
            refused = exc  # the denial record commits with this transaction
    if refused is not None:
        raise _unauthorized(str(refused))
    _check_tenant_binding(request, runtime, principal)
    return principal


def _check_tenant_binding(request: Request, runtime: Runtime, principal: Principal) -> None:
    settings = runtime.settings
    if settings.mode is Mode.DEDICATED:
        if principal.tenant != settings.tenant:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this gateway serves another tenant")
        return
    host = (request.headers.get("host") or "").split(":")[0].lower()
    with runtime.sessions() as session:
        host_tenant = tenant_for_host(session, host) if host else None
    if host_tenant is not None and host_tenant.id != principal.tenant:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "credentials belong to another tenant than this host")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


@dataclass(frozen=True)
class TenantAccess:
    """An authenticated tenant principal allowed a permission, with what audit records need."""

    principal: Principal
    tenant: str
    actor: Actor
    request_id: str | None


def require(permission: Permission) -> Callable[..., TenantAccess]:
    def dependency(request: Request, principal: PrincipalDep) -> TenantAccess:
        if principal.tenant is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the operator token is for platform operations only")
        if not principal.can(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} lacks permission {permission}")
        actor = principal.actor(
            ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent")
        )
        return TenantAccess(principal, principal.tenant, actor, request_id_var.get())

    return dependency


def require_operator(principal: PrincipalDep) -> Principal:
    if principal is not OPERATOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "platform operator token required")
    return principal
