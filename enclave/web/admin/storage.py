"""`/admin/storage`: the tenant's storage grants (`storage.revoke`: admin, security-admin) — each one's state
(active, revoked in Enclave, revoked by the customer's cloud) and its access probe's last run and result;
revoke and restore, each confirmed with a reason, through the same use cases as the API (every replica is told
at once); and the recent signed-URL batches from the audit log: who, how many, which operations — the records
never hold a URL or a signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from auth.roles import Permission
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.web.admin.console import console_page, reason_of, refused
from storage_connector.grants import GrantStatus
from tenancy.errors import DomainError, InvalidRequestError, NotFoundError

router = resource_router(include_in_schema=False, tags=["pages"])
SECTION = "/admin/storage"
STATES = {
    GrantStatus.ACTIVE: "active",
    GrantStatus.REVOKED: "revoked in Enclave",
    GrantStatus.REVOKED_BY_CUSTOMER: "revoked by the customer's cloud",
}
ACTS = {"revoke": "Revoke", "restore": "Restore"}
NOTICES = {
    "revoke": "Access revoked: every replica refuses new signed URLs at once.",
    "restore": "Access restored.",
    "revoke-local": "Access revoked in the database; the shared cache did not answer, so other replicas may take "
    "up to their cache's lifetime to follow.",
    "unchanged": "Nothing changed: the grant was already in that state.",
    "restore-local": "Access restored in the database; other replicas may take their cache's lifetime to follow.",
}


@router.get("/admin/storage")
def storage(request: Request, services: ServicesDep, access: AccessDep, done: str = "") -> Response:
    try:
        states = services.storage.status(access)
        batches = services.audit_browser.url_batches(access)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    names = {state.grant.id: state.grant.name for state in states}
    return console_page(
        request,
        access,
        SECTION,
        "admin/storage.html",
        states=states,
        labels=STATES,
        batches=batches,
        grant_names=names,
        notice=NOTICES.get(done),
    )


def _grant_act(act: str) -> str:
    if act not in ACTS:
        raise NotFoundError(f"no such step {act!r}")
    return act


def _confirm(
    request: Request,
    services: Services,
    access: Access,
    name: str,
    act: str,
    *,
    reason: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    state = next((s for s in services.storage.status(access) if s.grant.name == name), None)
    if state is None:
        raise NotFoundError(f"no storage grant named {name!r}")
    grant = state.grant
    consequences = (
        [
            f"Enclave stops issuing signed URLs for {grant.bucket}/{grant.prefix} at once, on every replica; "
            "URLs already issued are cut off where the store allows it (policy-bound Azure SAS, short-lived "
            "credentials), and otherwise expire within their lifetime.",
            "You can restore access afterwards from this page.",
        ]
        if act == "revoke"
        else [f"Enclave issues signed URLs for {grant.bucket}/{grant.prefix} again."]
    )
    return console_page(
        request,
        access,
        SECTION,
        "admin/confirm.html",
        status,
        heading=f"{ACTS[act]} access through the grant {grant.name}?",
        consequences=consequences,
        action=f"{SECTION}/grants/{grant.name}/{act}",
        ask_reason=True,
        reason=reason,
        button=ACTS[act],
        danger=act == "revoke",
        cancel=SECTION,
        error=error,
    )


@router.get("/admin/storage/grants/{name}/{act}")
def confirm(request: Request, name: str, act: str, services: ServicesDep, access: AccessDep) -> Response:
    try:
        return _confirm(request, services, access, name, _grant_act(act))
    except DomainError as exc:
        return refused(request, access, SECTION, exc)


@router.post("/admin/storage/grants/{name}/{act}")
def change(
    request: Request,
    name: str,
    act: str,
    services: ServicesDep,
    access: AccessDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        access.require(Permission.STORAGE_REVOKE)
        _grant_act(act)
        try:
            given = reason_of(reason)
        except InvalidRequestError as exc:
            return _confirm(request, services, access, name, act, reason=reason, error=exc.message, status=400)
        step = services.storage.revoke if act == "revoke" else services.storage.restore
        changed, everywhere = step(access, name, given)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    done = "unchanged" if not changed else act if everywhere else f"{act}-local"
    return RedirectResponse(f"{SECTION}?done={done}", status_code=303)
