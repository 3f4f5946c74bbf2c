"""Audit API: query events, export the log, fetch the public key that verifies exports."""

from __future__ import annotations

import base64
import binascii
import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from audit.actions import ACTIONS
from audit.events import AuditEvent, Outcome
from audit.store.log import AuditWriteError
from audit.store.reader import EventFilter, query_events
from auth.roles import Permission
from enclave.api.deps import RuntimeDep, TenantAccess, require
from enclave.audit_export import ExportFormat, PreparedExport, prepare_export

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MAX_PAGE = 1000
STREAM_CHUNK = 64 * 1024


class AuditEventOut(BaseModel):
    seq: int
    hash: str
    record: dict[str, Any] = Field(description="the hashed record body: id, time, actor, action, outcome, ...")


class AuditEventPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "seq" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid cursor: pass next_cursor unchanged") from None


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name} needs a time zone, e.g. 2026-11-22T10:00:00Z")
    return moment


def _audit_or_refuse(runtime: RuntimeDep, event: AuditEvent) -> None:
    try:
        runtime.appender.append(event)
    except AuditWriteError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the audit log cannot be written; the request was refused"
        ) from None


@router.get("/public-key", response_class=PlainTextResponse, summary="Ed25519 public key that verifies exports")
def public_key(runtime: RuntimeDep) -> PlainTextResponse:
    return PlainTextResponse(runtime.public_key_pem, headers={"X-Enclave-Key-Id": runtime.key_id})


@router.get("/events", response_model=AuditEventPage, summary="The tenant's audit events, filtered, in chain order")
def list_events(
    runtime: RuntimeDep,
    access: Annotated[TenantAccess, Depends(require(Permission.AUDIT_READ))],
    since: Annotated[datetime | None, Query(description="inclusive, ISO 8601 with zone")] = None,
    until: Annotated[datetime | None, Query(description="exclusive, ISO 8601 with zone")] = None,
    actor: Annotated[str | None, Query(max_length=512)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Outcome | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditEventPage:
    if action is not None and action not in ACTIONS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown action {action!r}")
    where = EventFilter(_aware(since, "since"), _aware(until, "until"), actor, action, outcome)
    after = _decode_cursor(cursor) if cursor else 0
    _audit_or_refuse(
        runtime,
        AuditEvent(
            tenant=access.tenant,
            actor=access.actor,
            action="audit.queried",
            request_id=access.request_id,
            details={"action": action, "actor": actor, "outcome": outcome.value if outcome else None},
        ),
    )
    with runtime.sessions() as session:
        records = query_events(session, access.tenant, where, after_seq=after, limit=limit)
    events = [AuditEventOut(seq=r.seq, hash=r.hash, record=orjson.loads(r.body)) for r in records]
    next_cursor = _encode_cursor(records[-1].seq) if len(records) == limit else None
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


def _stream(prepared: PreparedExport) -> Iterator[bytes]:
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)

    def produce() -> None:
        writer = _QueueWriter(chunks)
        try:
            prepared.write(writer)  # type: ignore[arg-type]
            writer.flush()
        finally:
            chunks.put(None)  # on failure the stream ends without its proof: verification reports truncation

    threading.Thread(target=produce, name="audit-export", daemon=True).start()
    while (chunk := chunks.get()) is not None:
        yield chunk


_EXTENSION = {ExportFormat.JSONL: "jsonl", ExportFormat.CSV: "csv", ExportFormat.OCSF: "ocsf.jsonl"}
_MEDIA = {
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.CSV: "text/csv",
    ExportFormat.OCSF: "application/x-ndjson",
}


@router.get("/export", summary="Stream the tenant's audit log (JSONL with proof, CSV or OCSF)")
def export(
    runtime: RuntimeDep,
    access: Annotated[TenantAccess, Depends(require(Permission.AUDIT_EXPORT))],
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    try:
        prepared = prepare_export(
            runtime,
            access.actor,
            access.tenant,
            since=_aware(since, "since"),
            until=_aware(until, "until"),
            export_format=format,
            request_id=access.request_id,
        )
    except AuditWriteError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the audit log cannot be written; export refused"
        ) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    filename = f"enclave-audit-{access.tenant}-{prepared.header.exported_at:%Y%m%dT%H%M%SZ}.{_EXTENSION[format]}"
    return StreamingResponse(
        _stream(prepared),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Enclave-Key-Id": runtime.key_id},
    )
