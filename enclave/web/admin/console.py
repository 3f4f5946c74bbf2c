"""What every console page shares: the navigation (only the pages the role may use), rendering with the
session's CSRF token, and refusals shown as a page with the refusal's status — never a stack trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from auth.roles import Permission
from enclave.http.deps import served_tenant
from enclave.services import Access
from enclave.web.pages import render
from tenancy.errors import DomainError, ErrorKind, InvalidRequestError

STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}
MAX_REASON = 500  # characters of a reason given for a revocation, restore or offboarding


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    permission: Permission | None  # None: every signed-in user


NAV = (
    NavItem("/files", "Files", Permission.STORAGE_READ),
    NavItem("/admin/users", "Users", Permission.USERS_ADMIN),
    NavItem("/admin/identity", "Identity providers", Permission.SSO_ADMIN),
    NavItem("/admin/storage", "Storage", Permission.STORAGE_REVOKE),
    NavItem("/admin/audit", "Audit log", Permission.AUDIT_READ),
    NavItem("/admin/api-keys", "API keys", Permission.APIKEYS_ADMIN),
    NavItem("/account", "Account", None),
)


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str
    current: bool


def navigation(access: Access, current: str) -> list[NavLink]:
    """The links of the pages this role may use; `current` is the page shown (marked for assistive tech)."""
    return [
        NavLink(item.path, item.label, item.path == current)
        for item in NAV
        if item.permission is None or access.can(item.permission)
    ]


def console_page(
    request: Request, access: Access, section: str, template: str, status: int = 200, **context: Any
) -> Response:
    """A console page: the template with the tenant, the navigation and the session's CSRF token."""
    return render(
        template,
        status,
        tenant_name=served_tenant(request).display_name,
        nav=navigation(access, section),
        csrf_token=access.principal.csrf_token,
        **context,
    )


def refused(request: Request, access: Access, section: str, exc: DomainError) -> Response:
    """A refused request as a page saying why, with the refusal's status (403 for a page the role may not use)."""
    status = STATUS.get(exc.kind, 400)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    response = console_page(request, access, section, "admin/refused.html", status, message=exc.message)
    response.headers.update(headers)
    return response


def reason_of(value: str) -> str:
    """A required reason, stripped; InvalidRequestError (shown on the form) when it is empty or too long."""
    reason = value.strip()
    if not reason:
        raise InvalidRequestError("Give a reason: it goes on the audit record.")
    if len(reason) > MAX_REASON:
        raise InvalidRequestError(f"A reason is at most {MAX_REASON} characters.")
    return reason
