"""`/account`: the signed-in user's profile, sessions (revoke one, sign out everywhere) and API keys (create
within the user's role, revoke). Every form posts to the gateway with the session's CSRF token (checked by
the signed-in pages' group) and calls the same use case as the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from auth.roles import Role
from auth.sessions_authn import SESSION_COOKIE
from auth.sso.errors import LoginRefusedError
from auth.sso.models import IdentityProviderRow
from auth.users import grantable_roles
from enclave.http.deps import AccessDep, ServicesDep, served_tenant
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.web.admin.console import navigation
from enclave.web.pages import clear_cookie, render
from enclave.web.signin import SIGNED_OUT_PATH
from tenancy.errors import DomainError, ErrorKind, InvalidRequestError

router = resource_router(include_in_schema=False, tags=["pages"])
ROLES = frozenset(role.value for role in Role)
STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
}


def _end_session_origin(services: Services, access: Access) -> tuple[str, ...]:
    """The provider's sign-out origin, where the sign-out form continues (allowed by the page's CSP)."""
    runtime = services.runtime
    with runtime.sessions() as session:
        rows = services.session_store.list_for_user(session, access.tenant, access.own_user_id())
        current = next((row for row in rows if row.public_id == access.principal.session), None)
        provider_row = (
            session.get(IdentityProviderRow, current.provider_id) if current and current.provider_id else None
        )
    if provider_row is None:
        return ()
    try:
        end_session = services.sign_in.provider(provider_row).endpoints().end_session
    except LoginRefusedError:  # the provider is unreachable now: sign-out stays local
        return ()
    if not end_session:
        return ()
    parts = urlsplit(end_session)
    return (f"{parts.scheme}://{parts.netloc}",)


def _account_page(
    request: Request,
    services: Services,
    access: Access,
    *,
    notice: str | None = None,
    new_key: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    tenant = served_tenant(request)
    role = access.principal.role
    assert isinstance(role, Role)  # a signed-in user's
    return render(
        "account.html",
        status,
        form_targets=_end_session_origin(services, access),
        tenant_name=tenant.display_name,
        nav=navigation(access, "/account"),
        user=services.users.me(access),
        sessions=services.users.sessions(access),
        current_session=access.principal.session,
        keys=services.api_keys.list(access, mine=True),
        csrf_token=access.principal.csrf_token,
        grantable_roles=[r.value for r in grantable_roles(role)],
        notice=notice,
        new_key=new_key,
    )


def _refused(request: Request, services: Services, access: Access, exc: DomainError) -> Response:
    """A refused form: the account page again, saying why (its status is the refusal's)."""
    status = STATUS.get(exc.kind)
    if status is None:
        raise exc  # unavailable, rate limited ...: the gateway's problem document
    return _account_page(request, services, access, notice=exc.message, status=status)


@router.get("/account")
def account(request: Request, services: ServicesDep, access: AccessDep, notice: str | None = None) -> Response:
    return _account_page(request, services, access, notice=(notice or "")[:100] or None)


@router.post("/account/sessions/{public_id}/revoke")
def revoke_session(request: Request, public_id: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        services.users.end_session(access, public_id)
    except DomainError as exc:
        return _refused(request, services, access, exc)
    return RedirectResponse("/account?notice=Session+revoked.", status_code=303)


@router.post("/account/sessions/revoke-all")
def sign_out_everywhere(services: ServicesDep, access: AccessDep) -> Response:
    services.users.end_all_sessions(access)
    response = RedirectResponse(SIGNED_OUT_PATH, status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.post("/account/api-keys")
def create_key(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    try:
        if role not in ROLES:
            raise InvalidRequestError(f"unknown role {role!r}")
        issued = services.api_keys.create(access, role=Role(role), name=name, mine=True)
    except DomainError as exc:
        return _refused(request, services, access, exc)
    new_key = {"name": name, "secret": issued.secret}
    return _account_page(request, services, access, notice="API key created.", new_key=new_key, status=201)


@router.post("/account/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        services.api_keys.revoke(access, key_id, mine=True)
    except DomainError as exc:
        return _refused(request, services, access, exc)
    return RedirectResponse("/account?notice=API+key+revoked.", status_code=303)
