"""A signed trailer at the end of a CSV or OCSF export, so that a cut or edited file is detected like a JSONL one.

The trailer is the file's last line and signs (Ed25519, domain `enclave-audit-export-trailer-v1`) the SHA-256 of
every byte before it, the number of records, the first and last seq and what the export covers (tenant,
since, until, exported_at, exported_by):

- CSV: a row of two cells, `#enclave-trailer` and the trailer's canonical JSON (a spreadsheet shows it as the
  last row, plainly labelled);
- OCSF: a JSON line `{"enclave_trailer":{...}}` (SIEM pipelines drop lines with that key).

`verify_trailer` reads a file in one pass and constant memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.canonical import JsonValue, canonical_bytes
from audit.events import parse_time
from audit.export.jsonl import ExportHeader
from audit.keys import TrustedKeys, UntrustedKeyError
from audit.signing import key_id, sign_statement, statement_signature_valid

TRAILER_DOMAIN = "enclave-audit-export-trailer-v1"
CSV_MARKER = "#enclave-trailer"
OCSF_KEY = "enclave_trailer"
_FIELDS = ("type", "format", "header", "records", "first_seq", "last_seq", "sha256", "key_id", "signature")


class DigestingWriter:
    """Passes writes on to `out` and keeps the SHA-256 of everything written."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)


@dataclass
class TrailerCounts:
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None

    def add(self, seq: int) -> None:
        self.records += 1
        self.first_seq = seq if self.first_seq is None else self.first_seq
        self.last_seq = seq


def trailer_line(
    kind: str, header: ExportHeader, counts: TrailerCounts, sha256: str, private_key: Ed25519PrivateKey
) -> bytes:
    """The signed trailer line for a file of `kind` (csv | ocsf) whose preceding bytes hash to `sha256`."""
    described = {name: value for name, value in header.to_json().items() if name not in ("type", "format", "version")}
    payload: dict[str, JsonValue] = {
        "type": "trailer",
        "format": kind,
        "header": described,
        "records": counts.records,
        "first_seq": counts.first_seq,
        "last_seq": counts.last_seq,
        "sha256": sha256,
        "key_id": key_id(private_key.public_key()),
    }
    signed = canonical_bytes({**payload, "signature": sign_statement(private_key, TRAILER_DOMAIN, payload)})
    if kind == "ocsf":
        return b'{"' + OCSF_KEY.encode() + b'":' + signed + b"}\n"
    row = io.StringIO()
    csv.writer(row, lineterminator="\r\n").writerow([CSV_MARKER, signed.decode("utf-8")])
    return row.getvalue().encode("utf-8")


@dataclass
class TrailerReport:
    format: str | None = None
    trailer: dict[str, Any] | None = None
    records: int = 0  # records read in the file
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.trailer is None:
            return "no trailer verified"
        header = self.trailer["header"]
        return (
            f"{self.records} records (seq {self.trailer['first_seq']}..{self.trailer['last_seq']}) of tenant "
            f"{header['tenant']}, {self.format} export at {header['exported_at']} by {header['exported_by']}, since "
            f"{header['since'] or 'the start'}, until {header['until'] or 'the export'}; trailer signed by key "
            f"{self.trailer['key_id']}: the file is complete and unaltered"
        )

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "ok": self.ok,
            "format": self.format,
            "records": self.records,
            "trailer": self.trailer,
            "problems": list(self.problems),
        }


def _trailer_of(line: bytes) -> tuple[str, Any] | None:
    """(format, trailer object) when `line` is a trailer line."""
    if line.startswith(b'{"' + OCSF_KEY.encode() + b'":'):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return "ocsf", item.get(OCSF_KEY) if isinstance(item, dict) and len(item) == 1 else None
    if line.startswith(CSV_MARKER.encode()):
        cells = next(csv.reader([line.decode("utf-8", "replace")]), [])
        if len(cells) == 2 and cells[0] == CSV_MARKER:
            try:
                return "csv", orjson.loads(cells[1])
            except orjson.JSONDecodeError:
                return None
    return None


def verify_trailer(lines: Iterable[bytes], public_key: Any) -> TrailerReport:
    """Check a CSV or OCSF export: its last line is a trailer signed by a trusted key (valid at exported_at),
    over the SHA-256 of every byte before it and the number of records."""
    keys = (
        public_key
        if isinstance(public_key, TrustedKeys)
        else TrustedKeys([public_key] if not isinstance(public_key, list | tuple) else public_key)
    )
    report = TrailerReport()
    digest = hashlib.sha256()
    previous: bytes | None = None
    rows = 0
    for line in lines:
        if previous is not None:
            digest.update(previous)
            rows += 1
        previous = line
    found = _trailer_of(previous.rstrip(b"\r\n")) if previous is not None else None
    if found is None or not isinstance(found[1], dict):
        report.problems.append("no trailer on the last line: the file was cut, or exported without one")
        return report
    kind, trailer = found
    report.format = kind
    if set(trailer) != set(_FIELDS) or trailer["type"] != "trailer" or trailer["format"] != kind:
        report.problems.append("the trailer's fields are not a trailer's")
        return report
    payload = {name: value for name, value in trailer.items() if name != "signature"}
    try:
        key = keys.key_for(trailer["key_id"], _parse(trailer["header"].get("exported_at")), "the trailer")
    except UntrustedKeyError as exc:
        report.problems.append(str(exc))
        return report
    if not statement_signature_valid(key, TRAILER_DOMAIN, payload, str(trailer["signature"])):
        report.problems.append("the trailer's signature does not verify")
        return report
    report.records = rows - 1 if kind == "csv" else rows  # the CSV's column-name row is not a record
    if digest.hexdigest() != trailer["sha256"]:
        report.problems.append("the file's content is not what the trailer signs: it was altered, cut or extended")
    if report.records != trailer["records"]:
        report.problems.append(f"the trailer counts {trailer['records']} records, the file holds {report.records}")
    report.trailer = trailer
    return report


def _parse(text: Any) -> datetime | None:
    try:
        return parse_time(text)
    except (TypeError, ValueError):
        return None


class Trailer:
    """Ends a CSV or OCSF export with a signed trailer: write through `writer`, `add` each record's seq, then
    `finish`."""

    def __init__(self, kind: str, out: BinaryIO, header: ExportHeader, private_key: Ed25519PrivateKey) -> None:
        if kind not in ("csv", "ocsf"):
            raise ValueError("a trailer ends a csv or ocsf export")
        self.kind = kind
        self.writer = DigestingWriter(out)
        self.counts = TrailerCounts()
        self.header = header
        self.private_key = private_key

    def add(self, seq: int) -> None:
        self.counts.add(seq)

    def finish(self) -> None:
        line = trailer_line(self.kind, self.header, self.counts, self.writer.digest.hexdigest(), self.private_key)
        self.writer.out.write(line)
