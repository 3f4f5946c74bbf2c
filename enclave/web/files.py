"""`/files`: the end user's file browser over the tenant's prefix in one storage grant — folders by '/', sizes,
downloads through a signed GET (issued by the same use case as the API, so audited and stopped by a
revocation), deletion where the role allows (confirmed on a page of its own), and uploads straight from the
browser to the store through signed URLs (static/files.js; multipart for large files, resumable).

The page's Content-Security-Policy is the pages' own plus `script-src 'self'` (files.js, served here) and
`connect-src` for the gateway (which signs) and the store the grant's URLs point to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from auth.roles import Permission
from enclave.http.deps import AccessDep, ServicesDep, served_tenant
from enclave.http.routing import resource_router
from enclave.services import Access
from enclave.services.storage import Listing
from enclave.web.account import STATUS
from enclave.web.admin.console import navigation
from enclave.web.pages import content_security_policy, render
from storage_connector.grants import Backend
from storage_connector.service import BatchItem
from storage_connector.signer import Operation
from tenancy.errors import DomainError

router = resource_router(include_in_schema=False, tags=["pages"])
STATIC = Path(__file__).parent / "static"
SCRIPT = (STATIC / "files.js").read_bytes()
STYLESHEET = (STATIC / "files.css").read_bytes()
GrantRef = Annotated[str, Query(max_length=64)]
Folder = Annotated[str, Query(max_length=1024)]
Key = Annotated[str, Query(min_length=1, max_length=1024)]
MULTIPART_BACKENDS = frozenset({Backend.LOCAL, Backend.S3, Backend.AZURE})  # GCS: one PUT (files.js)


def files_url(grant: str, prefix: str = "", notice: str | None = None) -> str:
    query = {"grant": grant, "prefix": prefix} | ({"notice": notice} if notice else {})
    return f"/files?{urlencode(query)}"


def _breadcrumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, folder) from the top down to `prefix`."""
    crumbs = [("Top", "")]
    path = ""
    for segment in prefix.removesuffix("/").split("/") if prefix else []:
        path += segment + "/"
        crumbs.append((segment, path))
    return crumbs


def _page(
    request: Request,
    access: Access,
    *,
    grants: list[str],
    grant: str | None,
    listing: Listing | None,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    can_write = access.can(Permission.STORAGE_WRITE)
    backend = listing.grant.backend if listing else None
    response = render(
        "files.html",
        status,
        tenant_name=served_tenant(request).display_name,
        nav=navigation(access, "/files"),
        csrf_token=access.principal.csrf_token,
        grants=grants,
        grant=grant,
        listing=listing,
        crumbs=_breadcrumbs(listing.prefix) if listing else [],
        can_write=can_write,
        can_delete=can_write and backend is Backend.LOCAL,
        multipart=backend in MULTIPART_BACKENDS,
        backend=backend.value if backend else "",
        notice=notice,
        error=error,
    )
    connect = " ".join(dict.fromkeys(("'self'", listing.store_origin))) if listing else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"{content_security_policy()}; script-src 'self'; connect-src {connect}"
    )
    return response


def _status_of(exc: DomainError) -> int:
    status = STATUS.get(exc.kind)
    if status is None:
        raise exc  # unavailable, rate limited ...: the gateway's problem document
    return status


@router.get("/files")
def files(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    grant: GrantRef | None = None,
    prefix: Folder = "",
    notice: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    shown_notice = (notice or "")[:100] or None
    try:
        states = services.storage.grants(access)
    except DomainError as exc:
        return _page(request, access, grants=[], grant=None, listing=None, error=exc.message, status=_status_of(exc))
    names = [state.grant.name for state in states]
    chosen = grant or ("default" if "default" in names else next(iter(names), None))
    if chosen is None:
        return _page(request, access, grants=names, grant=None, listing=None, notice=shown_notice)
    try:
        listing = services.storage.list_objects(access, chosen, prefix)
    except DomainError as exc:
        status = _status_of(exc)
        return _page(request, access, grants=names, grant=chosen, listing=None, error=exc.message, status=status)
    return _page(request, access, grants=names, grant=chosen, listing=listing, notice=shown_notice)


@router.get("/files/download")
def download(request: Request, services: ServicesDep, access: AccessDep, grant: GrantRef, key: Key) -> Response:
    """A signed GET for one object (one audited batch), followed at once by the browser."""
    try:
        batch = services.storage.issue(access, grant, [BatchItem(Operation.GET, key)])
    except DomainError as exc:
        return _page(request, access, grants=[], grant=grant, listing=None, error=exc.message, status=_status_of(exc))
    return RedirectResponse(batch.urls[0].signed.url, status_code=303)


def _parent(key: str) -> str:
    return key.rpartition("/")[0] + "/" if "/" in key else ""


@router.get("/files/delete")
def confirm_delete(request: Request, access: AccessDep, grant: GrantRef, key: Key) -> Response:
    """Deleting is confirmed on a page of its own (no script needed)."""
    return render(
        "files_delete.html",
        tenant_name=served_tenant(request).display_name,
        nav=navigation(access, "/files"),
        csrf_token=access.principal.csrf_token,
        grant=grant,
        key=key,
        back=files_url(grant, _parent(key)),
    )


@router.post("/files/delete")
def delete(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    grant: Annotated[str, Form(max_length=64)],
    key: Annotated[str, Form(min_length=1, max_length=1024)],
) -> Response:
    try:
        services.storage.delete_object(access, grant, key)
    except DomainError as exc:
        return _page(request, access, grants=[], grant=grant, listing=None, error=exc.message, status=_status_of(exc))
    name = key.rpartition("/")[2]
    return RedirectResponse(files_url(grant, _parent(key), f"Deleted {name}."), status_code=303)


def _asset(content: bytes, media_type: str) -> Response:
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'none'"}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/assets/files.js")
def script() -> Response:
    return _asset(SCRIPT, "text/javascript")


@router.get("/assets/files.css")
def stylesheet() -> Response:
    return _asset(STYLESHEET, "text/css")
