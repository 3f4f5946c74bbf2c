"""verify_export: an intact export passes; every kind of tampering is reported with its kind and line."""

import hashlib
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.canonical import canonical_bytes
from audit.checkpoints import Checkpoint, CheckpointKind, sign_checkpoint
from audit.events import Actor, ActorKind, AuditEvent, ChainHead, StoredRecord, empty_head, head_after, link
from audit.export.jsonl import PROOF_DOMAIN, ExportHeader, write_jsonl
from audit.signing import key_id, sign_statement
from audit.treeproofs import TreeStart
from audit.verify import MAX_PROBLEMS, Problem, ProblemKind, verify_export
from tests.audit.chains import signed_head, tree_root, tree_start

KEY = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
ACTIONS = ["auth.login.succeeded", "storage.urls.issued", "auth.apikey.created", "storage.grant.revoked"]
CHAINS: dict[str, dict[int, StoredRecord]] = {}  # every record made here, by tenant and seq: for roots


def make_chain(
    tenant: str = "acme", count: int = 10, head: ChainHead | None = None
) -> tuple[list[StoredRecord], ChainHead]:
    head = head or empty_head(tenant)
    records = []
    for i in range(count):
        event = AuditEvent(
            tenant=tenant,
            actor=Actor(ActorKind.USER, f"user-{i % 3}", ip="10.0.0.7"),
            action=ACTIONS[i % len(ACTIONS)],
            target=f"tenants/{tenant}/file-{i}.txt",
            details={"n": i},
            time=T0 + timedelta(seconds=head.seq + i),
            id=f"{tenant}-{head.seq + i + 1:08d}",
        )
        record = link(head, event)
        head = head_after(record)
        records.append(StoredRecord(record.seq, record.hash, record.body))
        CHAINS.setdefault(tenant, {})[record.seq] = records[-1]
    return records, head


def chain_of(tenant: str) -> list[StoredRecord]:
    known = CHAINS[tenant]
    return [known[seq] for seq in range(1, max(known) + 1)]


def checkpoint_for(
    record: StoredRecord,
    tenant: str = "acme",
    kind: CheckpointKind = "checkpoint",
    pruned_count: int = 0,
    key: Ed25519PrivateKey = KEY,
) -> Checkpoint:
    return signed_head(key, chain_of(tenant), record.seq, T0, tenant=tenant, kind=kind, pruned_count=pruned_count)


def with_checkpoints(records: list[StoredRecord], every: int = 4) -> list[StoredRecord | Checkpoint]:
    """Records with a checkpoint every `every` records and, like a real export, a signed head at the end."""
    items: list[StoredRecord | Checkpoint] = []
    for record in records:
        items.append(record)
        if record.seq % every == 0 or record is records[-1]:
            items.append(checkpoint_for(record))
    return items


def export(
    items: Sequence[StoredRecord | Checkpoint | TreeStart],
    tenant: str = "acme",
    key: Ed25519PrivateKey = KEY,
    since: datetime | None = None,
) -> list[bytes]:
    """The export's lines; `since` set makes it a range export (which may start mid-chain). Like the store's
    export, one starting after seq 1 carries the tree-start line (after the anchor, if any)."""
    header = ExportHeader(
        tenant=tenant, exported_at=T0, exported_by="auditor", key_id=key_id(key.public_key()), since=since
    )
    first = next((item for item in items if isinstance(item, StoredRecord)), None)
    if first is not None and first.seq > 1 and not any(isinstance(item, TreeStart) for item in items):
        at = 1 if items and isinstance(items[0], Checkpoint) and items[0].kind == "anchor" else 0
        items = [*items[:at], tree_start(chain_of(tenant), first.seq - 1), *items[at:]]
    out = io.BytesIO()
    write_jsonl(out, header, items, key)
    return out.getvalue().splitlines(keepends=True)


def line_of(lines: list[bytes], seq: int, kind: str = "record") -> int:
    """1-based line number of the record (or checkpoint) with `seq`."""
    for number, raw in enumerate(lines, start=1):
        item = orjson.loads(raw)
        if item["type"] == kind and (item["body"]["seq"] if kind == "record" else item["seq"]) == seq:
            return number
    raise AssertionError(f"no {kind} {seq}")


def edit_body(raw: bytes, rehash: bool, **changes: object) -> bytes:
    item = orjson.loads(raw)
    item["body"].update(changes)
    if rehash:
        item["hash"] = hashlib.sha256(canonical_bytes(item["body"])).hexdigest()
    return canonical_bytes(item) + b"\n"


def problems(lines: list[bytes]) -> list[tuple[ProblemKind, int]]:
    report = verify_export(lines, KEY.public_key())
    return [(p.kind, p.line) for p in report.problems]


@pytest.fixture
def intact() -> list[bytes]:
    records, _ = make_chain(count=12)
    return export(with_checkpoints(records))


# -- intact exports -------------------------------------------------------------------------------------


def test_intact_export_verifies(intact: list[bytes]) -> None:
    report = verify_export(intact, KEY.public_key())
    assert report.problems == []
    assert report.ok
    assert (report.records, report.checkpoints, report.first_seq, report.last_seq) == (12, 3, 1, 12)
    assert report.tenant == "acme"
    assert report.proof_verified
    assert "12 records (seq 1..12) of tenant acme" in report.summary()


def test_reads_a_binary_file_object(intact: list[bytes]) -> None:
    assert verify_export(io.BytesIO(b"".join(intact)), KEY.public_key()).ok


def test_empty_range_verifies() -> None:
    report = verify_export(export([]), KEY.public_key())
    assert report.ok
    assert report.records == 0


def test_export_starting_mid_chain_verifies() -> None:
    records, _ = make_chain(count=20)
    assert verify_export(export(with_checkpoints(records[7:]), since=T0), KEY.public_key()).ok


def test_export_after_pruning_verifies_from_the_anchor() -> None:
    records, _ = make_chain(count=20)
    anchor = checkpoint_for(records[9], kind="anchor", pruned_count=10)
    report = verify_export(export([anchor, *with_checkpoints(records[10:])]), KEY.public_key())
    assert report.ok, report.problems
    assert (report.anchors, report.pruned_count, report.first_seq) == (1, 10, 11)


def test_several_public_keys_accepted_across_a_rotation() -> None:
    old = Ed25519PrivateKey.generate()
    records, _ = make_chain(count=6)
    old_checkpoint = checkpoint_for(records[2], key=old)
    lines = export([*records[:3], old_checkpoint, *records[3:], checkpoint_for(records[5])])
    assert verify_export(lines, [KEY.public_key(), old.public_key()]).ok
    assert [p.kind for p in verify_export(lines, KEY.public_key()).problems] == [ProblemKind.UNKNOWN_KEY]


def test_no_key_is_an_error(intact: list[bytes]) -> None:
    with pytest.raises(ValueError, match="at least one public key"):
        verify_export(intact, [])


# -- every tamper kind ----------------------------------------------------------------------------------


def test_altered_record(intact: list[bytes]) -> None:
    at = line_of(intact, 6)
    intact[at - 1] = intact[at - 1].replace(b'"storage.urls.issued"', b'"auth.apikey.created"')
    assert problems(intact) == [(ProblemKind.ALTERED_RECORD, at)]


def test_altered_record_with_its_hash_recomputed_breaks_the_next_link(intact: list[bytes]) -> None:
    at = line_of(intact, 6)
    intact[at - 1] = edit_body(intact[at - 1], rehash=True, target="tenants/acme/innocent.txt")
    assert problems(intact) == [(ProblemKind.BROKEN_LINK, at + 1)]


def test_altered_last_record_with_recomputed_hash_fails_the_checkpoint(intact: list[bytes]) -> None:
    at = line_of(intact, 12)
    intact[at - 1] = edit_body(intact[at - 1], rehash=True, outcome="denied")
    found = problems(intact)
    assert (ProblemKind.CHECKPOINT_MISMATCH, line_of(intact, 12, "checkpoint")) in found
    assert (ProblemKind.ALTERED_RECORD, at) in found  # the proof's tail names it


def test_whitespace_is_refused_but_the_chain_is_still_checked(intact: list[bytes]) -> None:
    at = line_of(intact, 3)
    item = orjson.loads(intact[at - 1])
    intact[at - 1] = orjson.dumps(item, option=orjson.OPT_INDENT_2).replace(b"\n", b" ") + b"\n"
    assert problems(intact) == [(ProblemKind.MALFORMED_LINE, at)]


def test_deleted_record(intact: list[bytes]) -> None:
    at = line_of(intact, 7)
    del intact[at - 1]
    assert problems(intact) == [(ProblemKind.SEQUENCE_GAP, at)]
    message = verify_export(intact, KEY.public_key()).problems[0].message
    assert "records 7 are missing" in message


def test_deleted_first_record(intact: list[bytes]) -> None:
    del intact[1]
    assert problems(intact) == [(ProblemKind.SEQUENCE_GAP, 2)]


def test_deleted_checkpoint(intact: list[bytes]) -> None:
    del intact[line_of(intact, 8, "checkpoint") - 1]
    assert problems(intact) == [(ProblemKind.MISSING_CHECKPOINT, len(intact))]


def test_inserted_forged_record_claiming_an_existing_seq(intact: list[bytes]) -> None:
    records, _ = make_chain(count=12)
    forged_head = ChainHead("acme", 4, records[3].hash)
    forged = link(
        forged_head,
        AuditEvent(tenant="acme", actor=Actor(ActorKind.USER, "mallory"), action="auth.user.created", time=T0),
    )
    at = line_of(intact, 5)
    intact.insert(at - 1, b'{"body":' + forged.body + b',"hash":"' + forged.hash.encode() + b'","type":"record"}\n')
    assert problems(intact) == [(ProblemKind.INSERTED_RECORD, at)]


def test_inserted_record_after_the_genuine_one(intact: list[bytes]) -> None:
    records, _ = make_chain(count=12)
    forged = link(
        ChainHead("acme", 4, records[3].hash),
        AuditEvent(tenant="acme", actor=Actor(ActorKind.USER, "mallory"), action="auth.user.created", time=T0),
    )
    at = line_of(intact, 5) + 1
    intact.insert(at - 1, b'{"body":' + forged.body + b',"hash":"' + forged.hash.encode() + b'","type":"record"}\n')
    assert problems(intact) == [(ProblemKind.INSERTED_RECORD, at)]


def test_inserted_record_before_a_checkpoint_is_settled_by_the_checkpoint(intact: list[bytes]) -> None:
    records, _ = make_chain(count=12)
    forged = link(
        ChainHead("acme", 7, records[6].hash),
        AuditEvent(tenant="acme", actor=Actor(ActorKind.USER, "mallory"), action="auth.user.created", time=T0),
    )
    at = line_of(intact, 8) + 1  # after the genuine record 8, before its checkpoint
    intact.insert(at - 1, b'{"body":' + forged.body + b',"hash":"' + forged.hash.encode() + b'","type":"record"}\n')
    assert problems(intact) == [(ProblemKind.INSERTED_RECORD, at)]


def test_duplicated_record(intact: list[bytes]) -> None:
    at = line_of(intact, 9)
    intact.insert(at, intact[at - 1])
    assert problems(intact) == [(ProblemKind.DUPLICATE, at + 1)]


def test_record_repeated_later(intact: list[bytes]) -> None:
    at = line_of(intact, 10)
    intact.insert(at, intact[line_of(intact, 2) - 1])
    assert problems(intact) == [(ProblemKind.DUPLICATE, at + 1)]


def test_swapped_records(intact: list[bytes]) -> None:
    a, b = line_of(intact, 5), line_of(intact, 6)
    intact[a - 1], intact[b - 1] = intact[b - 1], intact[a - 1]
    assert problems(intact) == [(ProblemKind.REORDERED, b)]


def test_record_moved_far_back(intact: list[bytes]) -> None:
    at = line_of(intact, 3)
    moved = intact.pop(at - 1)
    intact.insert(line_of(intact, 10), moved)
    found = problems(intact)
    assert found == [(ProblemKind.REORDERED, line_of(intact, 3))]


def test_record_of_another_tenant(intact: list[bytes]) -> None:
    other, _ = make_chain(tenant="globex", count=5)
    at = line_of(intact, 5)
    intact.insert(at, b'{"body":' + other[4].body + b',"hash":"' + other[4].hash.encode() + b'","type":"record"}\n')
    assert problems(intact) == [(ProblemKind.WRONG_TENANT, at + 1)]


def test_tenant_field_changed(intact: list[bytes]) -> None:
    at = line_of(intact, 4)
    intact[at - 1] = edit_body(intact[at - 1], rehash=False, tenant="globex")
    assert problems(intact) == [(ProblemKind.ALTERED_RECORD, at), (ProblemKind.WRONG_TENANT, at)]


def test_checkpoint_of_another_tenant(intact: list[bytes]) -> None:
    other, _ = make_chain(tenant="globex", count=4)
    at = line_of(intact, 6)
    intact.insert(at, canonical_bytes(checkpoint_for(other[3], tenant="globex").to_json()) + b"\n")
    assert problems(intact) == [(ProblemKind.WRONG_TENANT, at + 1)]


def test_bad_checkpoint_signature(intact: list[bytes]) -> None:
    at = line_of(intact, 8, "checkpoint")
    item = orjson.loads(intact[at - 1])
    item["time"] = "2026-05-02T00:00:00.000000Z"
    intact[at - 1] = orjson.dumps(item) + b"\n"
    assert problems(intact) == [(ProblemKind.BAD_CHECKPOINT_SIGNATURE, at)]


def test_checkpoint_mismatch(intact: list[bytes]) -> None:
    records, _ = make_chain(count=12)
    wrong = sign_checkpoint(
        KEY, kind="checkpoint", tenant="acme", seq=6, head_hash="0" * 64, root=tree_root(records, 6), time=T0
    )
    at = line_of(intact, 6) + 1
    intact.insert(at - 1, canonical_bytes(wrong.to_json()) + b"\n")
    found = problems(intact)
    assert (ProblemKind.CHECKPOINT_MISMATCH, at) in found
    assert records  # the genuine chain is untouched


def test_truncated_tail_with_the_proof_removed(intact: list[bytes]) -> None:
    del intact[line_of(intact, 10) - 1 :]
    assert problems(intact) == [(ProblemKind.TRUNCATED, len(intact))]


def test_truncated_tail_keeping_the_proof(intact: list[bytes]) -> None:
    proof = intact[-1]
    del intact[line_of(intact, 11) - 1 :]
    intact.append(proof)
    assert problems(intact) == [(ProblemKind.TRUNCATED, len(intact))]


def test_truncated_tail_past_a_checkpoint_that_stayed() -> None:
    """The store exports checkpoints past the last record: records cut from the database's tail show."""
    records, _ = make_chain(count=12)
    lines = export([*records[:9], checkpoint_for(records[11])])
    assert problems(lines) == [(ProblemKind.TRUNCATED, 11)]
    assert "covers seq 12 but the last record is 9" in verify_export(lines, KEY.public_key()).problems[0].message


def test_bad_proof_signature(intact: list[bytes]) -> None:
    proof = orjson.loads(intact[-1])
    proof["records"] = 11
    intact[-1] = orjson.dumps(proof) + b"\n"
    assert problems(intact) == [(ProblemKind.BAD_PROOF_SIGNATURE, len(intact))]


def test_altered_header(intact: list[bytes]) -> None:
    header = orjson.loads(intact[0])
    header["exported_by"] = "someone-else"
    intact[0] = orjson.dumps(header) + b"\n"
    assert problems(intact) == [(ProblemKind.ALTERED_HEADER, 1)]


def test_malformed_lines(intact: list[bytes]) -> None:
    intact.insert(3, b"{not json\n")
    intact.insert(5, b'{"type":"mystery"}\n')
    intact.insert(6, b"\n")  # blank lines are refused too: an export has none
    found = problems(intact)
    assert found == [(ProblemKind.MALFORMED_LINE, 4), (ProblemKind.MALFORMED_LINE, 6), (ProblemKind.MALFORMED_LINE, 7)]


def test_record_without_body_is_malformed(intact: list[bytes]) -> None:
    intact.insert(2, b'{"type":"record","hash":"00"}\n')
    assert (ProblemKind.MALFORMED_LINE, 3) in problems(intact)


def test_lines_after_the_proof(intact: list[bytes]) -> None:
    records, _ = make_chain(count=13)
    intact.append(b'{"body":' + records[12].body + b',"hash":"' + records[12].hash.encode() + b'","type":"record"}\n')
    assert problems(intact) == [(ProblemKind.INSERTED_RECORD, len(intact))]


def test_unknown_key(intact: list[bytes]) -> None:
    other = Ed25519PrivateKey.generate()
    report = verify_export(intact, other.public_key())
    kinds = {p.kind for p in report.problems}
    assert kinds == {ProblemKind.UNKNOWN_KEY}
    assert report.problems[0].line == 1
    assert key_id(KEY.public_key()) in report.problems[0].message


def test_export_signed_by_another_key_with_forged_checkpoints() -> None:
    mallory = Ed25519PrivateKey.generate()
    records, _ = make_chain(count=4)
    lines = export(records, key=mallory)
    assert ProblemKind.UNKNOWN_KEY in {p.kind for p in verify_export(lines, KEY.public_key()).problems}


def test_proof_resigned_by_another_key_over_a_truncated_export(intact: list[bytes]) -> None:
    mallory = Ed25519PrivateKey.generate()
    proof = orjson.loads(intact[-1])
    payload = {k: v for k, v in proof.items() if k != "signature"}
    payload["key_id"] = key_id(mallory.public_key())
    payload["signature"] = sign_statement(mallory, PROOF_DOMAIN, {k: v for k, v in payload.items() if k != "signature"})
    intact[-1] = canonical_bytes(payload) + b"\n"
    assert problems(intact) == [(ProblemKind.UNKNOWN_KEY, len(intact))]


def test_anchor_that_does_not_join_the_records() -> None:
    records, _ = make_chain(count=12)
    anchor = checkpoint_for(records[4], kind="anchor", pruned_count=5)
    lines = export([anchor, *records[7:]])
    assert problems(lines) == [(ProblemKind.SEQUENCE_GAP, line_of(lines, 8))]


def test_first_record_must_start_from_genesis(intact: list[bytes]) -> None:
    intact[1] = edit_body(intact[1], rehash=True, prev="1" * 64)
    found = problems(intact)
    assert (ProblemKind.BROKEN_LINK, 2) in found


def test_problems_are_listed_by_line_and_printable(intact: list[bytes]) -> None:
    del intact[line_of(intact, 9) - 1]
    intact[line_of(intact, 3) - 1] = intact[line_of(intact, 3) - 1].replace(b"user-2", b"user-1")
    report = verify_export(intact, KEY.public_key())
    assert [p.line for p in report.problems] == sorted(p.line for p in report.problems)
    assert str(report.problems[0]).startswith("line 4 (seq 3): altered-record:")
    assert not report.ok


def test_problem_list_is_bounded() -> None:
    lines = [b"garbage\n"] * (MAX_PROBLEMS + 50)
    report = verify_export(lines, KEY.public_key())
    assert len(report.problems) == MAX_PROBLEMS
    assert report.omitted_problems > 0
    assert not report.ok


def test_problem_is_a_value() -> None:
    assert Problem(3, 2, ProblemKind.DUPLICATE, "x") == replace(Problem(3, 2, ProblemKind.DUPLICATE, "y"), message="x")


# -- one canonical form of every line (issue 7, section 1) ----------------------------------------------


def test_checkpoint_duplicated_in_place(intact: list[bytes]) -> None:
    at = line_of(intact, 8, "checkpoint")
    intact.insert(at, intact[at - 1])
    report = verify_export(intact, KEY.public_key())
    assert [(p.kind, p.line) for p in report.problems] == [(ProblemKind.DUPLICATE, at + 1)]
    assert report.checkpoints == 3  # what the proof counts, not 4


def test_checkpoint_removed_and_another_duplicated(intact: list[bytes]) -> None:
    removed = line_of(intact, 4, "checkpoint")
    del intact[removed - 1]
    at = line_of(intact, 8, "checkpoint")
    intact.insert(at, intact[at - 1])
    found = problems(intact)
    assert (ProblemKind.DUPLICATE, at + 1) in found


def test_checkpoint_moved_earlier(intact: list[bytes]) -> None:
    line = intact.pop(line_of(intact, 8, "checkpoint") - 1)
    at = line_of(intact, 6)
    intact.insert(at - 1, line)  # before record 6, two records ahead of the one it signs
    assert problems(intact) == [(ProblemKind.REORDERED, at)]


def test_checkpoint_moved_later(intact: list[bytes]) -> None:
    line = intact.pop(line_of(intact, 4, "checkpoint") - 1)
    at = line_of(intact, 6) + 1
    intact.insert(at - 1, line)
    assert problems(intact) == [(ProblemKind.REORDERED, at)]


def test_checkpoint_from_outside_a_range_replacing_one_inside() -> None:
    records, _ = make_chain(count=16)
    everything = export(with_checkpoints(records))
    outside = everything[line_of(everything, 4, "checkpoint") - 1]
    lines = export(with_checkpoints(records[5:]), since=T0)  # records 6..16, checkpoints 8, 12, 16
    del lines[line_of(lines, 12, "checkpoint") - 1]
    lines.insert(1, outside)  # before the first record, where the count still matches the proof
    assert problems(lines) == [(ProblemKind.REORDERED, 2)]


def test_extra_field_on_the_proof_line(intact: list[bytes]) -> None:
    proof = orjson.loads(intact[-1])
    proof["note"] = "all good"
    intact[-1] = canonical_bytes(proof) + b"\n"
    found = problems(intact)
    assert (ProblemKind.MALFORMED_LINE, len(intact)) in found
    assert "unknown fields note" in verify_export(intact, KEY.public_key()).problems[-1].message


def test_extra_field_on_a_record_line(intact: list[bytes]) -> None:
    at = line_of(intact, 5)
    item = orjson.loads(intact[at - 1])
    item["comment"] = "approved by the CFO"
    intact[at - 1] = canonical_bytes(item) + b"\n"
    assert (ProblemKind.MALFORMED_LINE, at) in problems(intact)


def test_extra_field_in_a_record_body_with_its_hash_recomputed(intact: list[bytes]) -> None:
    at = line_of(intact, 12)
    intact[at - 1] = edit_body(intact[at - 1], rehash=True, approved=True)
    assert (ProblemKind.MALFORMED_LINE, at) in problems(intact)


def test_extra_field_in_the_header(intact: list[bytes]) -> None:
    header = orjson.loads(intact[0])
    header["scope"] = "partial"
    intact[0] = canonical_bytes(header) + b"\n"
    assert (ProblemKind.MALFORMED_LINE, 1) in problems(intact)


def test_duplicate_key_before_the_real_one(intact: list[bytes]) -> None:
    """Another JSON parser may keep the first of two keys: the forged value must not pass unnoticed."""
    at = line_of(intact, 5)
    raw = intact[at - 1]
    body_start = raw.index(b'{"action":') + 1
    intact[at - 1] = raw[:body_start] + b'"action":"auth.logout",' + raw[body_start:]
    assert problems(intact) == [(ProblemKind.MALFORMED_LINE, at)]


def test_blank_lines_are_refused(intact: list[bytes]) -> None:
    intact.insert(4, b"\n")
    intact.append(b"\n")
    assert problems(intact) == [(ProblemKind.MALFORMED_LINE, 5), (ProblemKind.MALFORMED_LINE, len(intact))]


def test_missing_final_newline_is_refused(intact: list[bytes]) -> None:
    intact[-1] = intact[-1].rstrip(b"\n")
    assert problems(intact) == [(ProblemKind.MALFORMED_LINE, len(intact))]


# -- where the chain starts ---------------------------------------------------------------------------


def test_full_export_must_start_at_seq_1_or_an_anchor() -> None:
    """The oldest records deleted in the database, then exported and signed: the file says it all."""
    records, _ = make_chain(count=20)
    lines = export(with_checkpoints(records[10:]))  # since is null: a full export, starting at seq 11
    report = verify_export(lines, KEY.public_key())
    assert [(p.kind, p.line) for p in report.problems] == [(ProblemKind.SEQUENCE_GAP, line_of(lines, 11))]
    assert "records 1..10 are missing" in report.problems[0].message


def test_a_range_export_may_start_mid_chain_but_not_before_the_signed_start() -> None:
    records, _ = make_chain(count=12)
    starts_after_6 = checkpoint_for(records[11], pruned_count=6)
    lines = export([*records[2:], starts_after_6], since=T0)
    report = verify_export(lines, KEY.public_key())
    assert [p.kind for p in report.problems] == [ProblemKind.INSERTED_RECORD]
    assert "starts after seq 6" in report.problems[0].message


# -- an altered record with the unsigned tail rehashed -----------------------------------------------------


def rehash_from(lines: list[bytes], seq: int, **changes: object) -> None:
    """Alter record `seq` and rehash it and every record after it, so the chain links up again."""
    prev: str | None = None
    for number, raw in enumerate(lines):
        item = orjson.loads(raw)
        if item["type"] != "record" or item["body"]["seq"] < seq:
            continue
        if item["body"]["seq"] == seq:
            item["body"].update(changes)
        else:
            item["body"]["prev"] = prev
        item["hash"] = hashlib.sha256(canonical_bytes(item["body"])).hexdigest()
        prev = item["hash"]
        lines[number] = canonical_bytes(item) + b"\n"


def test_record_after_the_last_checkpoint_altered_and_the_rest_rehashed() -> None:
    records, _ = make_chain(count=15)
    lines = export(with_checkpoints(records))  # checkpoints at 4, 8, 12 and the signed head at 15
    rehash_from(lines, 13, outcome="denied")
    report = verify_export(lines, KEY.public_key())
    assert [(p.kind, p.line, p.seq) for p in report.problems] == [
        (ProblemKind.ALTERED_RECORD, line_of(lines, 13), 13),
        (ProblemKind.CHECKPOINT_MISMATCH, line_of(lines, 15, "checkpoint"), 15),
    ]
    assert "the proof signs another hash for record 13" in report.problems[0].message


def test_a_field_renamed_in_a_record_with_its_hash_recomputed(intact: list[bytes]) -> None:
    """Same number of fields, so the fast path takes it: the chain still refuses it at the next link."""
    at = line_of(intact, 6)
    item = orjson.loads(intact[at - 1])
    item["body"]["excuse"] = item["body"].pop("reason")
    item["hash"] = hashlib.sha256(canonical_bytes(item["body"])).hexdigest()
    intact[at - 1] = canonical_bytes(item) + b"\n"
    assert problems(intact) == [(ProblemKind.BROKEN_LINK, at + 1)]


def test_the_fast_path_and_the_full_check_agree_on_an_intact_export() -> None:
    """Lines that leave the fast path (a checkpoint, a malformed line) hand the chain state back intact."""
    records, _ = make_chain(count=30)
    lines = export(with_checkpoints(records, every=7))
    lines.insert(line_of(lines, 15), b"{not json\n")
    report = verify_export(lines, KEY.public_key())
    assert [(p.kind, p.line) for p in report.problems] == [(ProblemKind.MALFORMED_LINE, line_of(lines, 15) + 1)]
    assert (report.records, report.checkpoints, report.first_seq, report.last_seq) == (30, 5, 1, 30)
