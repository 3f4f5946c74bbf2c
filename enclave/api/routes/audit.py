"""The tenant's audit log: query events, export it (validated first, then audited, then streamed)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
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
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router
from enclave.services.audit_export import ExportError, ExportFormat, PreparedExport
from tenancy.errors import InvalidRequestError

logger = logging.getLogger("enclave.gateway")
router = resource_router(prefix="/audit", tags=["audit"])
MAX_PAGE = 1000
MAX_SEQ = 2**63 - 1
STREAM_CHUNK = 64 * 1024


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


class _QueueWriter:
    """A file-like sink that hands chunks to a bounded queue: the export streams in constant memory."""

    def __init__(self, chunks: queue.Queue[bytes | None]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= STREAM_CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._chunks.put(bytes(self._buffer))
            self._buffer.clear()


class ExportAbortedError(RuntimeError):
    """The export failed after its response started: raised so the server aborts the response."""


def stream_export(prepared: PreparedExport) -> Iterator[bytes]:
    """The export's bytes. If writing fails part-way, this raises instead of ending: the server then
    aborts the response (no clean end of stream), so no client mistakes a partial export for a whole one."""
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def produce() -> None:
        writer = _QueueWriter(chunks)
        try:
            prepared.write(writer)  # type: ignore[arg-type]
            writer.flush()
        except BaseException as exc:  # handed to the consumer, which raises it in the response
            failure.append(exc)
        finally:
            chunks.put(None)

    threading.Thread(target=produce, name="audit-export", daemon=True).start()
    while (chunk := chunks.get()) is not None:
        yield chunk
    if failure:
        logger.error("audit export failed mid-stream: %s; response aborted", type(failure[0]).__name__)
        raise ExportAbortedError("the export failed part-way; the response was aborted") from failure[0]


_EXTENSION = {ExportFormat.JSONL: "jsonl", ExportFormat.CSV: "csv", ExportFormat.OCSF: "ocsf.jsonl"}
_MEDIA = {
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.CSV: "text/csv",
    ExportFormat.OCSF: "application/x-ndjson",
}


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
    filename = f"enclave-audit-{access.tenant}-{prepared.header.exported_at:%Y%m%dT%H%M%SZ}.{_EXTENSION[format]}"
    return StreamingResponse(
        stream_export(prepared),
        media_type=_MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Enclave-Key-Id": services.audit.key_id,
        },
    )
