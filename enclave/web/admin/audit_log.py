"""`/admin/audit`: the tenant's audit log (`audit.read`), newest first, filtered by time range, actor, action and
outcome, paged by chain position (keyset, never OFFSET); its export (`audit.export`: JSONL with proof, CSV or
OCSF) streamed through the same use case as the API, with the command that verifies it offline and the public
key to verify it with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from audit.actions import ACTIONS
from audit.events import Outcome
from audit.store.reader import EventFilter
from auth.roles import Permission
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.export_stream import MEDIA_TYPE, export_filename, stream_export
from enclave.http.routing import resource_router
from enclave.services import Access, Services
from enclave.services.audit_browse import SCAN_WINDOW
from enclave.services.audit_export import ExportError, ExportFormat
from enclave.web.admin.console import console_page, refused
from tenancy.errors import DomainError, InvalidRequestError

router = resource_router(include_in_schema=False, tags=["pages"])
SECTION = "/admin/audit"
PAGE_SIZE = 50
MAX_SEQ = 2**63 - 1
MAX_ACTOR = 512


@dataclass(frozen=True)
class AuditForm:
    """The filter as typed (shown back in the form) and as parsed."""

    since: str = ""
    until: str = ""
    actor: str = ""
    action: str = ""
    outcome: str = ""

    def parsed(self) -> EventFilter:
        since, until = _instant(self.since, "From"), _instant(self.until, "Until")
        if since is not None and until is not None and since >= until:
            raise InvalidRequestError("“From” must be earlier than “Until”.")
        if self.action and self.action not in ACTIONS:
            raise InvalidRequestError("Choose an action from the list.")
        if self.outcome and self.outcome not in {o.value for o in Outcome}:
            raise InvalidRequestError("Choose an outcome from the list.")
        if len(self.actor) > MAX_ACTOR:
            raise InvalidRequestError(f"An actor is at most {MAX_ACTOR} characters.")
        return EventFilter(
            since, until, self.actor or None, self.action or None, Outcome(self.outcome) if self.outcome else None
        )

    def query(self) -> str:
        return urlencode({k: v for k, v in self.__dict__.items() if v})


def _instant(text: str, label: str) -> datetime | None:
    """A date and time typed in the form (a browser's datetime-local: UTC, as the console says) or ISO 8601 with
    a zone; InvalidRequestError naming the field otherwise."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"“{label}” is not a date and time (e.g. 2026-12-06T08:00).") from None
    if not 1970 <= moment.year <= 9998:
        raise InvalidRequestError(f"“{label}” must be between 1970 and 9998.")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _audit_page(
    request: Request,
    services: Services,
    access: Access,
    form: AuditForm,
    before: int | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    page = None if error else services.audit_browser.page(access, form.parsed(), before=before, limit=PAGE_SIZE)
    return console_page(
        request,
        access,
        SECTION,
        "admin/audit.html",
        status,
        form=form,
        query=form.query(),
        page=page,
        before=before,
        actions=sorted(ACTIONS),
        outcomes=[o.value for o in Outcome],
        formats=[f.value for f in ExportFormat],
        can_export=access.can(Permission.AUDIT_EXPORT),
        key_id=services.audit.key_id,
        window=f"{SCAN_WINDOW:,}",
        error=error,
    )


@router.get("/admin/audit")
def audit_log(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    since: str = "",
    until: str = "",
    actor: str = "",
    action: str = "",
    outcome: str = "",
    before: str = "",
) -> Response:
    form = AuditForm(since.strip(), until.strip(), actor.strip(), action, outcome)
    try:
        access.require(Permission.AUDIT_READ)
        try:
            cursor = int(before) if before else None
            if cursor is not None and not 0 < cursor <= MAX_SEQ:
                raise ValueError
            form.parsed()
        except ValueError as exc:
            message = exc.message if isinstance(exc, InvalidRequestError) else "That page does not exist."
            return _audit_page(request, services, access, form, None, error=message, status=400)
        return _audit_page(request, services, access, form, cursor)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)


@router.get("/admin/audit/export")
def export(
    request: Request,
    services: ServicesDep,
    access: AccessDep,
    format: str = "jsonl",
    since: str = "",
    until: str = "",
) -> Response:
    form = AuditForm(since.strip(), until.strip())
    try:
        access.require(Permission.AUDIT_EXPORT)
        try:
            if format not in {f.value for f in ExportFormat}:
                raise InvalidRequestError("Choose JSONL, CSV or OCSF.")
            where = form.parsed()
            prepared = services.audit.export(
                access, since=where.since, until=where.until, export_format=ExportFormat(format)
            )
        except (InvalidRequestError, ExportError) as exc:
            return _audit_page(request, services, access, form, None, error=str(exc), status=400)
    except DomainError as exc:
        return refused(request, access, SECTION, exc)
    return StreamingResponse(
        stream_export(prepared),
        media_type=MEDIA_TYPE[prepared.format],
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(prepared)}"',
            "X-Enclave-Key-Id": services.audit.key_id,
        },
    )


@router.get("/admin/audit/public-key.pem")
def public_key(services: ServicesDep, access: AccessDep) -> Response:
    """The key exports verify with, as a file (the API serves the same PEM at /api/v1/audit/public-key)."""
    filename = f"enclave-audit-{access.tenant}-{services.audit.key_id}.pem"
    return PlainTextResponse(
        services.audit.public_key_pem,
        media_type="application/x-pem-file",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Enclave-Key-Id": services.audit.key_id,
        },
    )
