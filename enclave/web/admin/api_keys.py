"""`/admin/api-keys`: every API key of the tenant (`apikeys.admin`) — who created it, its role, when it expires
and was last used — and revoking one (confirmed first), which revokes the keys it created too, through the same
use case as the API and the command line."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from auth.models import ApiKey
from auth.roles import Permission
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.web.admin.console import console_page, refused
from tenancy.errors import DomainError, NotFoundError

router = resource_router(include_in_schema=False, tags=["pages"])
SECTION = "/admin/api-keys"
PAGE_SIZE = 100
NOTICES = {"revoked": "API key revoked, with every key it created."}


def _key(services: Services, access: Access, key_id: str) -> ApiKey:
    key = services.api_keys.get(access, key_id)
    if key is None:
        raise NotFoundError(f"no API key {key_id!r} in this tenant")
    return key


@router.get("/admin/api-keys")
def api_keys(request: Request, services: ServicesDep, access: AccessDep, done: str = "", after: str = "") -> Response:
    try:
        page = services.api_keys.page(access, after=after or None, limit=PAGE_SIZE)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return console_page(
        request, access, SECTION, "admin/api_keys.html", page=page, after=after, notice=NOTICES.get(done)
    )


@router.get("/admin/api-keys/{key_id}/revoke")
def confirm(request: Request, key_id: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        key = _key(services, access, key_id)
        if key.revoked_at is not None:
            raise NotFoundError(f"the API key {key.name!r} is already revoked")
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return console_page(
        request,
        access,
        SECTION,
        "admin/confirm.html",
        heading=f"Revoke the API key {key.name}?",
        consequences=[
            f"The key {key.id} ({key.role}, created by {key.created_by}) stops working at once, and so does every "
            "key created with it. This cannot be undone: the owner creates a new key.",
        ],
        action=f"{SECTION}/{key.id}/revoke",
        ask_reason=False,
        button="Revoke",
        danger=True,
        cancel=SECTION,
    )


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke(request: Request, key_id: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        access.require(Permission.APIKEYS_ADMIN)
        services.api_keys.revoke(access, key_id)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return RedirectResponse(f"{SECTION}?done=revoked", status_code=303)
