"""The tenant's audit log: query events, export it (validated first, then audited, then streamed)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Query
from fastapi.responses import StreamingResponse

from audit.actions import ACTIONS
from audit.events import Outcome
from audit.store.reader import EventFilter
from enclave.api.models.audit import AuditEventOut, AuditEventPage
from enclave.api.params import SinceQuery, UntilQuery, parse_instant
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.export_stream import MEDIA_TYPE, export_filename, stream_export
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router
from enclave.services.audit_export import ExportError, ExportFormat
from tenancy.errors import InvalidRequestError

router = resource_router(prefix="/audit", tags=["audit"])
MAX_PAGE = 1000
MAX_SEQ = 2**63 - 1


@router.get(
    "/events",
    response_model=AuditEventPage,
    summary="The tenant's audit events, filtered, in chain order",
    responses=problem_responses(400),
)
def list_events(
    services: ServicesDep,
    access: AccessDep,
    since: SinceQuery = None,
    until: UntilQuery = None,
    actor: Annotated[str | None, Query(max_length=512)] = None,
    action: Annotated[str | None, Query(json_schema_extra={"enum": sorted(ACTIONS)})] = None,
    outcome: Outcome | None = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="pass `next_cursor` of the previous page unchanged")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditEventPage:
    if action is not None and action not in ACTIONS:
        raise InvalidRequestError("unknown action: see audit/actions.py for the catalogue")
    where = EventFilter(parse_instant(since, "since"), parse_instant(until, "until"), actor, action, outcome)
    records = services.audit.query(access, where, after_seq=cursor or 0, limit=limit)
    events = [AuditEventOut(seq=r.seq, hash=r.hash, record=orjson.loads(r.body)) for r in records]
    next_cursor = records[-1].seq if len(records) == limit else None
    return AuditEventPage(events=events, next_cursor=next_cursor)


@router.get(
    "/export",
    summary="Stream the tenant's audit log (JSONL with proof, CSV or OCSF)",
    description="`since` must be earlier than `until` when both are given (400 otherwise). The export is "
    "audited before it starts; if it fails part-way the response is aborted, never ended cleanly.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the export: `jsonl` and `ocsf` as NDJSON, `csv` as CSV",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(400),
    },
)
def export(
    services: ServicesDep,
    access: AccessDep,
    format: ExportFormat = ExportFormat.JSONL,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> StreamingResponse:
    start, end = parse_instant(since, "since"), parse_instant(until, "until")
    if start is not None and end is not None and start >= end:
        raise InvalidRequestError("since must be earlier than until")
    try:
        prepared = services.audit.export(access, since=start, until=end, export_format=format)
    except ExportError as exc:
        raise InvalidRequestError(str(exc)) from None
    return StreamingResponse(
        stream_export(prepared),
        media_type=MEDIA_TYPE[format],
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(prepared)}"',
            "X-Enclave-Key-Id": services.audit.key_id,
        },
    )
