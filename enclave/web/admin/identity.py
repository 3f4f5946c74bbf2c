"""`/admin/identity`: the tenant's identity providers (`sso.admin`) — list, add, edit in place (the client secret
is written, never shown: left empty, it is kept), remove after confirmation — through the same use cases as the
API and the command line; and a test sign-in, which runs a provider's flow for the administrator and reports
what it returned and which validation step failed, without opening a session or touching a user. The test
comes back to its own callback, `/admin/identity/test-callback`, which the provider must allow as a redirect
URI."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from auth.roles import Permission
from auth.sso.config import ProviderConfig, ProviderKind, ProviderOptions
from auth.sso.models import IdentityProviderRow
from enclave.http.deps import AccessDep, ServicesDep, served_tenant
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.web.admin.console import console_page, refused
from enclave.web.pages import clear_cookie, set_cookie
from tenancy.errors import DomainError, ErrorKind, InvalidRequestError, NotFoundError

router = resource_router(include_in_schema=False, tags=["pages"])
SECTION = "/admin/identity"
TRIAL_CALLBACK = "/admin/identity/test-callback"
TRIAL_COOKIE = "__Host-enclave-trial"  # binds the test to the browser that started it
TRIAL_TTL_SECONDS = 600
TEXT_FIELDS = ("name", "kind", "client_id", "client_secret", "issuer")
OPTION_TEXT = ("hosted_domain", "directory", "authority", "required_org", "required_team", "api_url", "web_url")
OPTION_LISTS = ("scopes", "algorithms", "allowed_tenant_ids")  # typed space- or comma-separated
MAX_FIELD = 1000
NOTICES = {
    "added": "Identity provider added.",
    "saved": "Identity provider saved.",
    "removed": "Identity provider removed: nobody signs in with it any more.",
}


def _form_values(form: dict[str, Any]) -> dict[str, str]:
    """The provider form as typed (strings only, bounded); the secret never goes back to the page."""
    values: dict[str, str] = {}
    for field in (*TEXT_FIELDS, *OPTION_TEXT, *OPTION_LISTS):
        value = form.get(field)
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > MAX_FIELD:
            raise InvalidRequestError(f"{field} is longer than {MAX_FIELD} characters")
        values[field] = text
    return values


def _config(values: dict[str, str]) -> ProviderConfig:
    """The provider the form describes; InvalidRequestError naming each field that is wrong (never its value)."""
    options: dict[str, Any] = {name: values[name] for name in OPTION_TEXT if values[name]}
    for name in OPTION_LISTS:
        items = tuple(part for part in values[name].replace(",", " ").split() if part)
        if items:
            options[name] = items
    document: dict[str, Any] = {
        "name": values["name"],
        "kind": values["kind"],
        "client_id": values["client_id"],
        "options": options,
    }
    if values["client_secret"]:
        document["client_secret"] = values["client_secret"]
    if values["issuer"]:
        document["issuer"] = values["issuer"]
    try:
        return ProviderConfig.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"] if part != "options")
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise InvalidRequestError("; ".join(problems)) from None


def _row_values(row: IdentityProviderRow) -> dict[str, str]:
    options = ProviderOptions.model_validate(row.options)
    values = {"name": row.name, "kind": row.kind, "client_id": row.client_id, "client_secret": ""}
    values["issuer"] = row.issuer or ""
    for name in OPTION_TEXT:
        values[name] = getattr(options, name) or ""
    for name in OPTION_LISTS:
        values[name] = " ".join(getattr(options, name))
    return values


def _list_page(
    request: Request, services: Services, access: Access, *, notice: str | None = None, status: int = 200
) -> Response:
    providers = services.sso.providers(access)
    return console_page(
        request,
        access,
        SECTION,
        "admin/identity.html",
        status,
        providers=providers,
        callback=trial_redirect_uri(request),
        secret_set={row.name: row.client_secret is not None for row in providers},
        notice=notice,
    )


def _edit_page(
    request: Request,
    access: Access,
    values: dict[str, str],
    *,
    editing: str | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    shown = {**values, "client_secret": ""}  # a typed secret is never sent back
    return console_page(
        request,
        access,
        SECTION,
        "admin/identity_edit.html",
        status,
        values=shown,
        editing=editing,
        kinds=[kind.value for kind in ProviderKind],
        option_text=OPTION_TEXT,
        option_lists=OPTION_LISTS,
        error=error,
    )


def _provider(services: Services, access: Access, name: str) -> IdentityProviderRow:
    row = next((row for row in services.sso.providers(access) if row.name == name), None)
    if row is None:
        raise NotFoundError(f"no identity provider named {name!r}")
    return row


@router.get("/admin/identity")
def identity(request: Request, services: ServicesDep, access: AccessDep, done: str = "") -> Response:
    try:
        return _list_page(request, services, access, notice=NOTICES.get(done))
    except DomainError as exc:
        return refused(request, access, SECTION, exc)


@router.get("/admin/identity/new")
def new_provider(request: Request, access: AccessDep) -> Response:
    try:
        access.require(Permission.SSO_ADMIN)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    blank = dict.fromkeys((*TEXT_FIELDS, *OPTION_TEXT, *OPTION_LISTS), "") | {"kind": "oidc"}
    return _edit_page(request, access, blank, editing=None)


@router.post("/admin/identity/new")
async def add(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    values: dict[str, str] = {}
    try:
        access.require(Permission.SSO_ADMIN)
        values = _form_values(dict(await request.form()))
        services.sso.add_provider(access, _config(values))
    except DomainError as exc:
        if exc.kind in (ErrorKind.INVALID, ErrorKind.CONFLICT):
            return _edit_page(request, access, values, editing=None, error=exc.message, status=400)
        return refused(request, access, SECTION, exc)
    return RedirectResponse(f"{SECTION}?done=added", status_code=303)


@router.get("/admin/identity/{name}/edit")
def edit_provider(request: Request, name: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        row = _provider(services, access, name)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return _edit_page(request, access, _row_values(row), editing=name)


@router.post("/admin/identity/{name}/edit")
async def save(request: Request, name: str, services: ServicesDep, access: AccessDep) -> Response:
    values: dict[str, str] = {}
    try:
        access.require(Permission.SSO_ADMIN)
        values = _form_values(dict(await request.form()))
        services.sso.replace_provider(access, name, _config(values))
    except DomainError as exc:
        if exc.kind in (ErrorKind.INVALID, ErrorKind.CONFLICT):
            return _edit_page(request, access, values, editing=name, error=exc.message, status=400)
        return refused(request, access, SECTION, exc)
    return RedirectResponse(f"{SECTION}?done=saved", status_code=303)


@router.get("/admin/identity/{name}/remove")
def confirm_removal(request: Request, name: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        row = _provider(services, access, name)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return console_page(
        request,
        access,
        SECTION,
        "admin/confirm.html",
        heading=f"Remove the identity provider {row.name}?",
        consequences=[
            f"Nobody can sign in with {row.name} any more; users who signed in with it keep their accounts and can "
            "be linked to another provider.",
        ],
        action=f"{SECTION}/{row.name}/remove",
        ask_reason=False,
        button="Remove",
        danger=True,
        cancel=SECTION,
    )


@router.post("/admin/identity/{name}/remove")
def remove(request: Request, name: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        services.sso.remove_provider(access, name)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return RedirectResponse(f"{SECTION}?done=removed", status_code=303)


def trial_redirect_uri(request: Request) -> str:
    origin = served_tenant(request).origin
    assert origin is not None  # served_tenant refuses a gateway without ENCLAVE_PUBLIC_URL
    return origin + TRIAL_CALLBACK


@router.get("/admin/identity/{name}/test")
def start_test(request: Request, name: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        start = services.sso_trial.begin(access, name, trial_redirect_uri(request))
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    response = RedirectResponse(start.redirect_url, status_code=303)
    set_cookie(response, TRIAL_COOKIE, start.browser_binding, TRIAL_TTL_SECONDS)
    return response


@router.get(TRIAL_CALLBACK)
def finish_test(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
) -> Response:
    try:
        report = services.sso_trial.finish(
            access,
            state=state,
            code=code,
            error=error,
            iss=iss,
            browser_binding=request.cookies.get(TRIAL_COOKIE),
            redirect_uri=trial_redirect_uri(request),
        )
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    response = console_page(request, access, SECTION, "admin/identity_test.html", report=report)
    clear_cookie(response, TRIAL_COOKIE)
    return response
