"""Streaming an audit export over HTTP in constant memory, for the API and the console alike: the export is
written on a thread into a bounded queue; if it fails part-way the response is aborted, never ended cleanly."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

from enclave.services.audit_export import ExportFormat, PreparedExport

logger = logging.getLogger("enclave.gateway")
STREAM_CHUNK = 64 * 1024
EXTENSION = {ExportFormat.JSONL: "jsonl", ExportFormat.CSV: "csv", ExportFormat.OCSF: "ocsf.jsonl"}
MEDIA_TYPE = {
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.CSV: "text/csv",
    ExportFormat.OCSF: "application/x-ndjson",
}


def export_filename(prepared: PreparedExport) -> str:
    header = prepared.header
    return f"enclave-audit-{header.tenant}-{header.exported_at:%Y%m%dT%H%M%SZ}.{EXTENSION[prepared.format]}"


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
