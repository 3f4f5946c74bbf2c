"""`/admin/users`: the tenant's users (`users.admin`): search by email or name, page through in email order,
change a role, and offboard — a confirmation step asking the reason, then the same use case as the API and the
command line (disable, end sessions and API keys, and the Keycloak account where Enclave administers one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from auth.roles import Permission, Role
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.web.admin.console import console_page, reason_of, refused
from tenancy.errors import DomainError, ErrorKind, InvalidRequestError

router = resource_router(include_in_schema=False, tags=["pages"])
SECTION = "/admin/users"
PAGE_SIZE = 50
NOTICES = {"role": "Role changed; the user's open sessions carry the new role at once."}


def _users_page(
    request: Request,
    services: Services,
    access: Access,
    *,
    q: str = "",
    after: str | None = None,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    page = services.users.page(access, text=q, after=after, limit=PAGE_SIZE)
    return console_page(
        request,
        access,
        SECTION,
        "admin/users.html",
        status,
        page=page,
        q=q,
        after=after,
        roles=[role.value for role in Role],
        notice=notice,
        error=error,
    )


@router.get("/admin/users")
def users(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    q: str = "",
    after: str | None = None,
    done: str | None = None,
) -> Response:
    try:
        return _users_page(request, services, access, q=q, after=after or None, notice=NOTICES.get(done or ""))
    except DomainError as exc:
        return refused(request, access, SECTION, exc)


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request,
    user_id: str,
    services: ServicesDep,
    access: AccessDep,
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        access.require(Permission.USERS_ADMIN)
        if role not in {r.value for r in Role}:
            raise InvalidRequestError(f"Choose one of the roles: {', '.join(r.value for r in Role)}.")
        services.users.set_role(access, user_id, Role(role))
    except DomainError as exc:
        if exc.kind is ErrorKind.INVALID:
            return _users_page(request, services, access, error=exc.message, status=400)
        return refused(request, access, SECTION, exc)
    return RedirectResponse(f"{SECTION}?done=role", status_code=303)


def _confirm_offboarding(
    request: Request,
    services: Services,
    access: Access,
    user_id: str,
    *,
    reason: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    user = services.users.get(access, user_id)
    sessions = services.users.sessions(access, user_id)
    return console_page(
        request,
        access,
        SECTION,
        "admin/confirm.html",
        status,
        heading=f"Offboard {user.email}?",
        consequences=[
            f"{user.email} is disabled and cannot sign in again; their {len(sessions)} open session(s) end at "
            "once and every API key they created is revoked.",
            "Where Enclave administers the tenant's Keycloak, their Keycloak account is disabled and signed out "
            "too. The directory (SCIM) cannot undo an administrator's offboarding.",
        ],
        action=f"{SECTION}/{user_id}/offboard",
        ask_reason=True,
        reason=reason,
        button="Offboard",
        danger=True,
        cancel=SECTION,
        error=error,
    )


@router.get("/admin/users/{user_id}/offboard")
def offboard_form(request: Request, user_id: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        return _confirm_offboarding(request, services, access, user_id)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)


@router.post("/admin/users/{user_id}/offboard")
def offboard(
    request: Request,
    user_id: str,
    services: ServicesDep,
    access: AccessDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        access.require(Permission.USERS_ADMIN)
        try:
            given = reason_of(reason)
        except InvalidRequestError as exc:
            return _confirm_offboarding(
                request, services, access, user_id, reason=reason, error=exc.message, status=400
            )
        report = services.users.offboard(access, user_id, given)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    idp = (
        "" if report.idp_accounts_disabled is None else f", {report.idp_accounts_disabled} Keycloak account(s) disabled"
    )
    notice = (
        f"{report.email} is offboarded: {report.sessions_ended} session(s) ended, "
        f"{report.api_keys_revoked} API key(s) revoked{idp}."
    )
    return _users_page(request, services, access, notice=notice)
