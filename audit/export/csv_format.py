"""CSV export: one row per event for spreadsheets, actor flattened, details as JSON.

Cells that a spreadsheet would evaluate as a formula (starting with = + - @, tab or carriage return) are
prefixed with an apostrophe, so an attacker-controlled user agent or target cannot run in the auditor's
spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.canonical import canonical_bytes
from audit.events import StoredRecord
from audit.export.jsonl import ExportHeader
from audit.export.trailer import Trailer

COLUMNS = (
    "seq",
    "time",
    "id",
    "tenant",
    "action",
    "outcome",
    "reason",
    "target",
    "actor_kind",
    "actor_id",
    "actor_email",
    "actor_ip",
    "actor_user_agent",
    "request_id",
    "trace_id",
    "details",
    "prev",
    "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ROWS_PER_WRITE = 1000


def safe_cell(value: object) -> str:
    """A cell's text, neutralised if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(record: StoredRecord) -> list[str]:
    body: dict[str, Any] = orjson.loads(record.body)
    actor: dict[str, Any] = body["actor"]
    values = (
        body["seq"],
        body["time"],
        body["id"],
        body["tenant"],
        body["action"],
        body["outcome"],
        body.get("reason"),
        body.get("target"),
        actor["kind"],
        actor["id"],
        actor.get("email"),
        actor.get("ip"),
        actor.get("user_agent"),
        body.get("request_id"),
        body.get("trace_id"),
        canonical_bytes(body.get("details") or {}).decode("utf-8"),
        body["prev"],
        record.hash,
    )
    return [safe_cell(value) for value in values]


def write_csv(
    out: BinaryIO,
    records: Iterable[StoredRecord],
    *,
    header: ExportHeader | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> int:
    """Write a header row and one row per record (UTF-8, RFC 4180 quoting); returns the number of records. With
    `header` and `private_key`, the file ends with a signed trailer row (audit.export.trailer)."""
    trailer = Trailer("csv", out, header, private_key) if header is not None and private_key is not None else None
    target = trailer.writer if trailer is not None else out
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
        if trailer is not None:
            trailer.add(record.seq)
        if count % _ROWS_PER_WRITE == 0:
            target.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    target.write(buffer.getvalue().encode("utf-8"))
    if trailer is not None:
        trailer.finish()
    return count
