"""Exporting a tenant's audit log, for the CLI and the HTTP API alike: audit the export first (no record,
no export), then stream records and checkpoints in constant memory in the chosen format."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO

from audit.events import Actor, AuditEvent, StoredRecord, utc_now
from audit.export.csv_format import write_csv
from audit.export.jsonl import ExportHeader, write_jsonl
from audit.export.ocsf import write_ocsf
from audit.store.reader import ChainStartError, ExportItem, ExportRange, export_items, export_range
from enclave.db import transaction
from enclave.runtime import Runtime


class ExportFormat(StrEnum):
    JSONL = "jsonl"  # the chain, checkpoints and a signed proof: `enclave audit verify` checks it
    CSV = "csv"
    OCSF = "ocsf"


logger = logging.getLogger(__name__)


class ExportError(ValueError):
    """An export request that cannot be carried out; the message says why."""


class ExportFailedError(RuntimeError):
    """An export that broke off while streaming (the database failed, the reader went away). What was written
    is incomplete: a JSONL export then has no proof line, and the caller must not present it as complete."""


@dataclass(frozen=True)
class PreparedExport:
    """An export that has been audited and whose range is fixed; `write` streams it."""

    runtime: Runtime
    header: ExportHeader
    span: ExportRange | None
    format: ExportFormat

    @property
    def total(self) -> int:
        return 0 if self.span is None else self.span.last_seq - self.span.first_seq + 1

    def write(self, out: BinaryIO, on_record: Callable[[], None] | None = None) -> int:
        """Stream the export to `out`; returns the number of records. Raises ExportFailedError (after logging
        one structured line) when it breaks off: nothing is swallowed, so the caller can abort its stream."""
        written = [0]
        items = self._items(on_record, written)
        try:
            if self.format is ExportFormat.JSONL:
                return write_jsonl(out, self.header, items, self.runtime.signing_key).count
            records = (item for item in items if isinstance(item, StoredRecord))
            write = write_csv if self.format is ExportFormat.CSV else write_ocsf
            return write(out, records, header=self.header, private_key=self.runtime.signing_key)  # signed trailer
        except Exception as exc:
            logger.error(
                "audit export failed after %d of %d records (%s): the export is incomplete",
                written[0],
                self.total,
                type(exc).__name__,
                extra={"tenant": self.header.tenant},
            )
            raise ExportFailedError(
                f"the export of {self.header.tenant}'s audit log broke off after {written[0]} of {self.total} "
                f"records ({type(exc).__name__}); it is incomplete"
            ) from exc

    def _items(self, on_record: Callable[[], None] | None, written: list[int]) -> Iterator[ExportItem]:
        if self.span is None:
            return
        for item in export_items(self.runtime.sessions, self.span):
            if isinstance(item, StoredRecord):
                written[0] += 1
                if on_record is not None:
                    on_record()
            yield item


def prepare_export(
    runtime: Runtime,
    actor: Actor,
    tenant: str,
    *,
    since: datetime | None,
    until: datetime | None,
    export_format: ExportFormat,
    request_id: str | None = None,
) -> PreparedExport:
    if since is not None and until is not None and since >= until:
        raise ExportError("--since must be earlier than --until")
    exported_at = utc_now()
    with transaction(runtime.sessions) as session:
        runtime.audit.append(
            session,
            AuditEvent(
                tenant=tenant,
                actor=actor,
                action="audit.exported",
                target=f"tenant:{tenant}",
                request_id=request_id,
                details={
                    "format": export_format.value,
                    "since": since.isoformat() if since else None,
                    "until": until.isoformat() if until else None,
                },
            ),
        )
    try:
        span = export_range(runtime.sessions, tenant, since, until)
    except ChainStartError as exc:
        logger.error("audit export refused: the chain's oldest records are missing", extra={"tenant": tenant})
        raise ExportError(f"{exc}; export refused") from None
    header = ExportHeader(
        tenant=tenant,
        since=since,
        until=until,
        exported_at=exported_at,
        exported_by=actor.id,
        key_id=runtime.key_id,
    )
    return PreparedExport(runtime, header, span, export_format)
