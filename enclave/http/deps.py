"""Request dependencies shared by the API and the pages: the services, the tenant a request's host serves,
the authenticated principal, and the `Access` a use case is called with.

`authenticate_request` only composes: the authenticator chain (auth/authn.py) says who is calling, the
failed-authentication limiter spends and audits refusals, and the tenant binding is checked here. The tenant
of a request comes only from its principal (and, in shared mode, must agree with the host name); never from
the request body or query. Each is established once per request and kept on `request.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from audit.events import ActorKind
from auth.authn import AuthenticationError, Credentials
from auth.models import Tenant
from auth.principal import OPERATOR, Principal
from auth.tenants import tenant_for_host
from enclave.http.csrf import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token
from enclave.http.hosts import request_host
from enclave.logging import request_id_var
from enclave.services import Access, Services
from enclave.settings import Mode
from tenancy.errors import ForbiddenError, NotFoundError, UnavailableError

PRINCIPAL_STATE = "principal"
TENANT_STATE = "host_tenant"
CSRF_FORM_PENDING_STATE = "csrf_form_pending"
_NO_TENANT = object()

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="An API key `enc_<12 hex id>_<secret>` (tenant routes) or the platform operator token.",
    auto_error=False,
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(request: Request) -> str | None:
    """The client's address: the peer's, or what a trusted proxy (ENCLAVE_TRUSTED_PROXIES) says it is —
    uvicorn rewrites the peer from `X-Forwarded-For` only for those (enclave/cli/gateway.py)."""
    return request.client.host if request.client else None


class RequestAuthenticator(Protocol):
    """What says who a request is, or refuses it (the gateway's chain, or a route group's own)."""

    def authenticate(self, credentials: Credentials) -> Principal: ...


@dataclass(frozen=True)
class HostTenant:
    """The tenant this request's host serves, and its fixed public origin (redirect URIs and the expected
    Origin of state-changing requests derive from configuration, never from request headers)."""

    id: str
    display_name: str
    origin: str | None  # None when a dedicated gateway has no ENCLAVE_PUBLIC_URL


def host_tenant(request: Request) -> HostTenant | None:
    """The tenant the request's host names: the configured one in dedicated mode; in shared mode the tenant
    whose host name it is (None for a host that names none). 400 for a malformed Host. Looked up once."""
    cached: HostTenant | object | None = getattr(request.state, TENANT_STATE, _NO_TENANT)
    if cached is not _NO_TENANT:
        assert cached is None or isinstance(cached, HostTenant)
        return cached
    services = get_services(request)
    settings = services.runtime.settings
    tenant: Tenant | None = None
    with services.runtime.sessions() as session:
        if settings.mode is Mode.DEDICATED:
            assert settings.tenant is not None
            tenant = session.get(Tenant, settings.tenant)
        else:
            host = request_host(request.scope)
            tenant = tenant_for_host(session, host) if host else None
    found = None
    if tenant is not None and tenant.disabled_at is None:
        if settings.mode is Mode.DEDICATED:
            origin = settings.public_url.rstrip("/") if settings.public_url else None
        else:
            origin = f"https://{tenant.hostname}"
        found = HostTenant(tenant.id, tenant.display_name, origin)
    setattr(request.state, TENANT_STATE, found)
    return found


def served_tenant(request: Request) -> HostTenant:
    """The host's tenant, with its public origin; NotFoundError / UnavailableError otherwise."""
    tenant = host_tenant(request)
    if tenant is None:
        raise NotFoundError("no tenant is served at this address")
    if tenant.origin is None:
        raise UnavailableError("sign-in is not configured: set ENCLAVE_PUBLIC_URL to the gateway's address")
    return tenant


def authenticate_request(
    request: Request, *, csrf_in_form: bool = False, authenticator: RequestAuthenticator | None = None
) -> Principal:
    """The request's principal (established once per request, before its body is read). `csrf_in_form`: the
    pages' forms carry the CSRF token in the body, which the pages' group checks once it is read.
    `authenticator`: a route group's own in place of the gateway's chain (/scim/v2 accepts SCIM tokens only);
    its refusals are limited and audited the same way."""
    cached: Principal | None = getattr(request.state, PRINCIPAL_STATE, None)
    if cached is not None:
        return cached
    services = get_services(request)
    authentication = services.authentication
    home = host_tenant(request)
    home_id = home.id if home is not None else None
    ip = client_ip(request)
    authentication.limiter.check_client(ip)
    credentials = Credentials(
        authorization=request.headers.get("authorization"),
        cookies=request.cookies,
        client_ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    try:
        principal = (authenticator or authentication.chain).authenticate(credentials)
    except AuthenticationError as refused:
        authentication.limiter.refuse(refused, ip=ip, request_id=request_id_var.get(), tenant=home_id)
    _check_tenant_binding(services, principal, home_id)
    if principal.session is not None and principal.kind is ActorKind.USER:  # signed in by the session cookie
        _check_session_request(request, principal, csrf_in_form)
    setattr(request.state, PRINCIPAL_STATE, principal)
    return principal


def _check_session_request(request: Request, principal: Principal, csrf_in_form: bool) -> None:
    """A state-changing request authenticated by the session cookie must come from this tenant's origin and
    carry the session's CSRF token: in `X-CSRF-Token`, or (pages only) in the form, checked by
    `check_form_csrf` once the body is read."""
    if request.method.upper() in SAFE_METHODS:
        return
    assert principal.csrf_token is not None
    tenant = served_tenant(request)
    assert tenant.origin is not None
    check_origin(request.headers, tenant.origin)
    header = request.headers.get(CSRF_HEADER)
    if header is None and csrf_in_form:
        setattr(request.state, CSRF_FORM_PENDING_STATE, True)
        return
    check_token(header, principal.csrf_token)


async def check_form_csrf(request: Request) -> None:
    """The pages' group dependency: a cookie-authenticated form post carries the session's token."""
    if not getattr(request.state, CSRF_FORM_PENDING_STATE, False):
        return
    principal: Principal = getattr(request.state, PRINCIPAL_STATE)
    assert principal.csrf_token is not None
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    check_token(presented if isinstance(presented, str) else None, principal.csrf_token)


def _check_tenant_binding(services: Services, principal: Principal, host_tenant_id: str | None) -> None:
    if principal.tenant is None:
        return  # the platform operator: tenant routes refuse it, operator routes need it
    settings = services.runtime.settings
    if settings.mode is Mode.DEDICATED:
        if principal.tenant != settings.tenant:
            raise ForbiddenError("this gateway serves another tenant")
    elif host_tenant_id is not None and host_tenant_id != principal.tenant:
        raise ForbiddenError("credentials belong to another tenant than this host")


def get_principal(
    request: Request, _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> Principal:
    return authenticate_request(request)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def tenant_principal(principal: PrincipalDep) -> Principal:
    """The tenant-authenticated groups' dependency: any principal of a tenant (never the operator)."""
    if principal.tenant is None:
        raise ForbiddenError("the operator token is for platform operations only")
    return principal


def require_operator(principal: PrincipalDep) -> Principal:
    """The operator group's dependency."""
    if principal is not OPERATOR:
        raise ForbiddenError("platform operator token required")
    return principal


def get_access(request: Request, principal: Annotated[Principal, Depends(tenant_principal)]) -> Access:
    """What a use case is called with: the tenant principal, its tenant and the actor audit records name."""
    return Access.of(
        principal, ip=client_ip(request), user_agent=request.headers.get("user-agent"), request_id=request_id_var.get()
    )


AccessDep = Annotated[Access, Depends(get_access)]
