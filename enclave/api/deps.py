"""Request dependencies: the runtime, the authenticated principal, and the tenant it may act on.

`authenticate_request` only composes: the authenticator chain (auth/authn.py) says who is calling, the
failed-authentication limiter spends and audits refusals, and the tenant binding is checked here. The
tenant of a request comes only from its principal (and, in shared mode, must agree with the host name);
never from the request body or query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from audit.events import Actor, ActorKind
from auth.authn import AuthenticationError, AuthenticatorChain, Credentials
from auth.principal import OPERATOR, Principal
from auth.roles import Permission
from auth.tenants import tenant_for_host
from enclave.api.failed_auth import FailedAuthLimiter
from enclave.api.hosts import request_host
from enclave.logging import request_id_var
from enclave.runtime import Runtime
from enclave.settings import Mode
from enclave.web.csrf import check_session_request
from tenancy.errors import ForbiddenError

PRINCIPAL_STATE = "principal"

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="An API key `enc_<12 hex id>_<secret>` (tenant routes) or the platform operator token.",
    auto_error=False,
)


@dataclass(frozen=True)
class Authentication:
    """What `create_app` wires for authentication: the chain and the failed-attempt limiter."""

    chain: AuthenticatorChain
    limiter: FailedAuthLimiter


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _host_tenant(request: Request, runtime: Runtime) -> str | None:
    """The tenant named by the request's host: the configured one in dedicated mode; in shared mode the
    tenant whose host name it is (None for a host that names none). 400 for a malformed Host."""
    if runtime.settings.mode is Mode.DEDICATED:
        return runtime.settings.tenant
    host = request_host(request.scope)
    if host is None:
        return None
    with runtime.sessions() as session:
        tenant = tenant_for_host(session, host)
    return tenant.id if tenant is not None else None


def authenticate_request(request: Request) -> Principal:
    """The request's principal (established once per request, before its body is read)."""
    cached: Principal | None = getattr(request.state, PRINCIPAL_STATE, None)
    if cached is not None:
        return cached
    runtime = get_runtime(request)
    authentication: Authentication = request.app.state.authentication
    host_tenant = _host_tenant(request, runtime)
    ip = _client_ip(request)
    authentication.limiter.check_client(ip)
    credentials = Credentials(
        authorization=request.headers.get("authorization"),
        cookies=request.cookies,
        client_ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    try:
        principal = authentication.chain.authenticate(credentials)
    except AuthenticationError as refused:
        authentication.limiter.refuse(refused, ip=ip, request_id=request_id_var.get(), tenant=host_tenant)
    _check_tenant_binding(runtime, principal, host_tenant)
    if credentials.bearer is None and principal.kind is ActorKind.USER:  # signed in by the session cookie
        check_session_request(request)  # state-changing methods: Origin and the session's CSRF token
    setattr(request.state, PRINCIPAL_STATE, principal)
    return principal


def _check_tenant_binding(runtime: Runtime, principal: Principal, host_tenant: str | None) -> None:
    if principal.tenant is None:
        return  # the platform operator: tenant routes refuse it (require), operator routes need it
    if runtime.settings.mode is Mode.DEDICATED:
        if principal.tenant != runtime.settings.tenant:
            raise ForbiddenError("this gateway serves another tenant")
    elif host_tenant is not None and host_tenant != principal.tenant:
        raise ForbiddenError("credentials belong to another tenant than this host")


def get_principal(
    request: Request, _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> Principal:
    return authenticate_request(request)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def tenant_principal(principal: PrincipalDep) -> Principal:
    """The tenant-authenticated group's dependency: any principal of a tenant (never the operator)."""
    if principal.tenant is None:
        raise ForbiddenError("the operator token is for platform operations only")
    return principal


def require_operator(principal: PrincipalDep) -> Principal:
    """The operator group's dependency."""
    if principal is not OPERATOR:
        raise ForbiddenError("platform operator token required")
    return principal


@dataclass(frozen=True)
class TenantAccess:
    """An authenticated tenant principal allowed a permission, with what audit records need."""

    principal: Principal
    tenant: str
    actor: Actor
    request_id: str | None


def require(permission: Permission) -> Callable[..., TenantAccess]:
    """How a route asks for a permission: `access: Annotated[TenantAccess, Depends(require(P.X))]`."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(tenant_principal)]) -> TenantAccess:
        assert principal.tenant is not None
        if not principal.can(permission):
            raise ForbiddenError(f"role {principal.role} lacks permission {permission}")
        actor = principal.actor(ip=_client_ip(request), user_agent=request.headers.get("user-agent"))
        return TenantAccess(principal, principal.tenant, actor, request_id_var.get())

    return dependency
