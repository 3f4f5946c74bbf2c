"""The verifiable export: a JSON Lines file carrying the chain, its signed tree heads and a signed proof.

    {"type":"header", "format":"enclave-audit-jsonl", "version":3, "tenant":..., "since":..., ...}
    {"type":"anchor", ...}                      only when the range starts right after pruned records
    {"type":"tree-start", "size":N, "subtrees":[...]}   only when the range starts after seq 1
    {"body":{...},"hash":"<sha256 of body>","type":"record"}   one per record, in seq order
    {"type":"checkpoint", ..., "root":...}      a signed tree head, right after the record it covers
    {"type":"continuation", ...}                only when the range stops before a signed tree head
    {"type":"proof", "header_hash":..., "records":N, "first_seq":..., "last_hash":..., "tail":[...], ...}

Every line is the canonical JSON encoding of its object followed by "\n"; verification refuses any other
spelling. Record bodies are the canonical bytes the store holds, embedded as they are (no re-encoding), so
writing costs little more than the I/O. Every record is covered by a tree head signed when it was committed
(the last checkpoint, or the continuation's); the proof, signed when the file is written, binds the header,
the counts, both ends of the chain and the (shortened) hashes of the records after the last checkpoint line,
so cutting the file, swapping in another header, or altering a record and rehashing those after it, is
detected and the altered record named.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.canonical import JsonValue, canonical_bytes, field_problem
from audit.checkpoints import Checkpoint
from audit.events import StoredRecord, format_time, parse_time
from audit.signing import key_id, sign_statement
from audit.treeproofs import Continuation, TreeStart
from tenancy.names import is_tenant_name

FORMAT = "enclave-audit-jsonl"
FORMAT_VERSION = 3  # 3: signed tree heads (Merkle roots) over every record; tree-start and continuation lines
PROOF_DOMAIN = "enclave-audit-export-proof-v3"
TAIL_HASH_HEX = 16  # digits of each tail record's hash in the proof: enough to point at an altered record
MAX_TAIL = 10_000  # tail hashes the proof lists at most (the last ones); checkpoints keep the tail far shorter
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_HEADER_FIELDS = ("type", "format", "version", "tenant", "since", "until", "exported_at", "exported_by", "key_id")
_PROOF_FIELDS = (
    "type",
    "header_hash",
    "records",
    "checkpoints",
    "anchors",
    "first_seq",
    "first_prev",
    "last_seq",
    "last_hash",
    "tail",
    "key_id",
    "signature",
)


class InvalidExportError(ValueError):
    """An export header or proof that is malformed, or items that cannot form an export."""


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _parse_optional_time(data: dict[str, Any], name: str) -> datetime | None:
    value = data[name]
    if value is None:
        return None
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise InvalidExportError(f"header {name} must look like 2026-01-31T12:00:00.000000Z") from None


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """What an export covers and who made it; the proof signs its hash."""

    tenant: str
    exported_at: datetime
    exported_by: str
    key_id: str
    since: datetime | None = None
    until: datetime | None = None
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if not is_tenant_name(self.tenant):
            raise InvalidExportError("header tenant is not a valid tenant id")
        if not isinstance(self.exported_by, str) or not self.exported_by:
            raise InvalidExportError("header exported_by (the exporting actor's id) is required")
        if not isinstance(self.key_id, str) or not _KEY_ID.match(self.key_id):
            raise InvalidExportError("header key_id must be 16 lowercase hex digits")
        if self.format != FORMAT or self.version != FORMAT_VERSION:
            raise InvalidExportError(f"unsupported export format {self.format!r} version {self.version!r}")
        for name in ("exported_at", "since", "until"):
            moment = getattr(self, name)
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                raise InvalidExportError(f"header {name} must be a timezone-aware datetime")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidExportError("header since must be earlier than until")

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": "header",
            "format": self.format,
            "version": self.version,
            "tenant": self.tenant,
            "since": _optional_time(self.since),
            "until": _optional_time(self.until),
            "exported_at": format_time(self.exported_at),
            "exported_by": self.exported_by,
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> ExportHeader:
        if not isinstance(data, dict) or data.get("type") != "header":
            raise InvalidExportError('the first line must be the export header ({"type":"header",...})')
        problem = field_problem(data, _HEADER_FIELDS, "header")
        if problem is not None:
            raise InvalidExportError(problem)
        exported_at = _parse_optional_time(data, "exported_at")
        if exported_at is None:
            raise InvalidExportError("header exported_at is required")
        return cls(
            tenant=data["tenant"],
            exported_at=exported_at,
            exported_by=data["exported_by"],
            key_id=data["key_id"],
            since=_parse_optional_time(data, "since"),
            until=_parse_optional_time(data, "until"),
            format=data["format"],
            version=data["version"],
        )


def header_hash(header: dict[str, JsonValue]) -> str:
    """SHA-256 over the canonical encoding of the header object: what the proof binds."""
    return hashlib.sha256(canonical_bytes(header)).hexdigest()


@dataclass(frozen=True, slots=True)
class ExportProof:
    """The last line: signed totals and chain ends. `first_*`/`last_*` are null for an export without records."""

    header_hash: str
    records: int
    checkpoints: int
    anchors: int
    first_seq: int | None
    first_prev: str | None
    last_seq: int | None
    last_hash: str | None
    tail: tuple[str, ...]  # leading hex digits of the hashes of the records after the last checkpoint line
    # followed by a record (a final checkpoint keeps the records before it)
    key_id: str
    signature: str

    def signed_payload(self) -> dict[str, JsonValue]:
        return {
            "type": "proof",
            "header_hash": self.header_hash,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "anchors": self.anchors,
            "first_seq": self.first_seq,
            "first_prev": self.first_prev,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "tail": list(self.tail),
            "key_id": self.key_id,
        }

    def to_json(self) -> dict[str, JsonValue]:
        return {**self.signed_payload(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: Any) -> ExportProof:
        if not isinstance(data, dict) or data.get("type") != "proof":
            raise InvalidExportError("not a proof line")
        problem = field_problem(data, _PROOF_FIELDS, "proof")
        if problem is not None:
            raise InvalidExportError(problem)
        checks = {
            "header_hash": _is_str(data["header_hash"]),
            "records": _is_count(data["records"]),
            "checkpoints": _is_count(data["checkpoints"]),
            "anchors": _is_count(data["anchors"]),
            "first_seq": data["first_seq"] is None or _is_count(data["first_seq"]),
            "first_prev": data["first_prev"] is None or _is_str(data["first_prev"]),
            "last_seq": data["last_seq"] is None or _is_count(data["last_seq"]),
            "last_hash": data["last_hash"] is None or _is_str(data["last_hash"]),
            "tail": isinstance(data["tail"], list)
            and len(data["tail"]) <= MAX_TAIL
            and all(_is_str(item) and len(item) == TAIL_HASH_HEX for item in data["tail"]),
            "key_id": _is_str(data["key_id"]),
            "signature": _is_str(data["signature"]),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidExportError(f"proof has malformed {', '.join(bad)}")
        values = {name: data[name] for name in _PROOF_FIELDS if name != "type"}
        return cls(**{**values, "tail": tuple(data["tail"])})


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True)
class ExportSummary:
    count: int  # records written
    checkpoints: int
    anchors: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None


def _record_line(record: StoredRecord) -> bytes:
    # Keys in sorted order, like every canonical object; the body goes in exactly as stored.
    return b'{"body":' + record.body + b',"hash":"' + record.hash.encode("ascii") + b'","type":"record"}\n'


def write_jsonl(
    out: BinaryIO,
    header: ExportHeader,
    items: Iterable[StoredRecord | Checkpoint | TreeStart | Continuation],
    private_key: Ed25519PrivateKey,
) -> ExportSummary:
    """Stream `items` (audit.store.reader.export_items: an optional anchor and tree start, then records in seq
    order, each checkpoint right after the record it covers, then an optional continuation) as a signed JSONL
    export, in constant memory. Raises InvalidExportError when the items cannot form one tenant's chain segment
    (another tenant's checkpoint, seq not increasing)."""
    signer = key_id(private_key.public_key())
    if header.key_id != signer:
        raise InvalidExportError(f"header names key {header.key_id} but the export is signed with {signer}")
    header_json = header.to_json()
    out.write(canonical_bytes(header_json) + b"\n")
    count = checkpoints = anchors = 0
    tail: deque[str] = deque(maxlen=MAX_TAIL)
    first_seq: int | None = None
    first_prev: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    signed_before = False
    for item in items:
        if isinstance(item, StoredRecord):
            if last_seq is not None and item.seq <= last_seq:
                raise InvalidExportError(f"record seq {item.seq} follows seq {last_seq}: records must be in order")
            if first_seq is None:
                first_seq, first_prev = item.seq, _first_prev(item, header.tenant)
            if signed_before:  # records after a checkpoint line: the tail restarts (the last one keeps it)
                tail.clear()
                signed_before = False
            out.write(_record_line(item))
            count += 1
            last_seq, last_hash = item.seq, item.hash
            tail.append(item.hash)
        elif isinstance(item, TreeStart | Continuation):
            if isinstance(item, Continuation) and item.tree_head.tenant != header.tenant:
                raise InvalidExportError(f"tree head of tenant {item.tree_head.tenant} in an export of {header.tenant}")
            out.write(canonical_bytes(item.to_json()) + b"\n")
        else:
            if item.tenant != header.tenant:
                raise InvalidExportError(f"{item.kind} of tenant {item.tenant} in an export of {header.tenant}")
            out.write(canonical_bytes(item.to_json()) + b"\n")
            if item.kind == "anchor":
                anchors += 1
            else:
                checkpoints += 1
                signed_before = signed_before or item.seq == last_seq
    proof = ExportProof(
        header_hash=header_hash(header_json),
        records=count,
        checkpoints=checkpoints,
        anchors=anchors,
        first_seq=first_seq,
        first_prev=first_prev,
        last_seq=last_seq,
        last_hash=last_hash,
        tail=tuple(full[:TAIL_HASH_HEX] for full in tail),
        key_id=signer,
        signature="",
    )
    signature = sign_statement(private_key, PROOF_DOMAIN, proof.signed_payload())
    out.write(canonical_bytes({**proof.signed_payload(), "signature": signature}) + b"\n")
    return ExportSummary(count, checkpoints, anchors, first_seq, last_seq, last_hash)


def _first_prev(record: StoredRecord, tenant: str) -> str:
    body = orjson.loads(record.body)
    if not isinstance(body, dict) or body.get("tenant") != tenant or not isinstance(body.get("prev"), str):
        raise InvalidExportError(f"record seq {record.seq} is not a record of tenant {tenant}")
    prev: str = body["prev"]
    return prev
