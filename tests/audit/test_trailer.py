"""CSV and OCSF exports end with a signed trailer: a cut, extended or edited file is detected like a JSONL one."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.events import Actor, ActorKind, AuditEvent, StoredRecord, empty_head, head_after, link
from audit.export import ExportHeader, write_csv, write_ocsf
from audit.export.trailer import CSV_MARKER, verify_trailer
from audit.signing import key_id

KEY = Ed25519PrivateKey.from_private_bytes(b"\x44" * 32)
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def records(count: int = 20) -> list[StoredRecord]:
    head, found = empty_head("acme"), []
    for n in range(count):
        event = AuditEvent(
            tenant="acme",
            actor=Actor(ActorKind.USER, "alice"),
            action="storage.urls.issued",
            target=f'tenants/acme/=cmd|" /C calc"!A{n}',
            details={"n": n},
            time=T0,
        )
        record = link(head, event)
        head = head_after(record)
        found.append(StoredRecord(record.seq, record.hash, record.body))
    return found


def header() -> ExportHeader:
    return ExportHeader(tenant="acme", exported_at=T0, exported_by="alice", key_id=key_id(KEY.public_key()), since=T0)


WRITERS = {"csv": write_csv, "ocsf": write_ocsf}


def export(kind: str, signed: bool = True) -> list[bytes]:
    out = io.BytesIO()
    if signed:
        WRITERS[kind](out, records(), header=header(), private_key=KEY)
    else:
        WRITERS[kind](out, records())
    return out.getvalue().splitlines(keepends=True)


@pytest.mark.parametrize("kind", ["csv", "ocsf"])
def test_an_intact_export_verifies_and_says_what_it_covers(kind: str) -> None:
    lines = export(kind)
    report = verify_trailer(lines, KEY.public_key())
    assert report.ok, report.problems
    assert report.records == 20 and report.format == kind
    assert "20 records (seq 1..20) of tenant acme" in report.summary()
    assert "since 2026-06-01T00:00:00.000000Z" in report.summary()


def test_the_csv_stays_a_csv() -> None:
    rows = list(csv.reader(io.StringIO(b"".join(export("csv")).decode())))
    assert rows[-1][0] == CSV_MARKER and len(rows[-1]) == 2  # the trailer: a plainly labelled last row
    assert all(len(row) == len(rows[0]) for row in rows[:-1])


@pytest.mark.parametrize("kind", ["csv", "ocsf"])
@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda lines: lines[:-1], "no trailer"),  # the trailer cut off
        (lambda lines: lines[:-3] + lines[-1:], "not what the trailer signs"),  # rows cut, trailer kept
        (lambda lines: [*lines[:-1], lines[-2], *lines[-1:]], "not what the trailer signs"),  # a row repeated
        (lambda lines: [lines[0].replace(b"a", b"b", 1), *lines[1:]], "not what the trailer signs"),  # edited
        (lambda lines: [*lines[:-1], lines[-1][:-40] + b"\n"], "no trailer"),  # the trailer cut mid-line
        (lambda lines: [], "no trailer"),
    ],
    ids=["trailer-cut", "rows-cut", "row-repeated", "edited", "trailer-truncated", "empty"],
)
def test_tampering_is_detected(kind: str, tamper, expected: str) -> None:  # type: ignore[no-untyped-def]
    report = verify_trailer(tamper(export(kind)), KEY.public_key())
    assert not report.ok
    assert expected in report.problems[0], report.problems


def test_an_edited_trailer_or_another_key_is_refused() -> None:
    lines = export("ocsf")
    trailer = orjson.loads(lines[-1])
    trailer["enclave_trailer"]["records"] = 19
    edited = [*lines[:-2], orjson.dumps(trailer) + b"\n"]
    assert "signature does not verify" in verify_trailer(edited, KEY.public_key()).problems[0]
    other = Ed25519PrivateKey.generate().public_key()
    assert "signed by key" in verify_trailer(lines, other).problems[0]


def test_an_export_written_without_a_trailer_says_so() -> None:
    assert "exported without one" in verify_trailer(export("csv", signed=False), KEY.public_key()).problems[0]
