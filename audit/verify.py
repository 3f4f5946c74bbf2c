"""Offline verification of a JSONL export: what is wrong, and where.

Needs only the export and the gateway's public key. Every line must be exactly the canonical encoding of its
object (sorted keys, no whitespace, no duplicate key, no field beyond its kind's, "\n" at the end): a file that
another JSON parser could read differently is refused. Each record's hash is recomputed over its body's
canonical bytes, each record must link to the one before it, each checkpoint must follow the record it signs,
once, with a valid signature over that record's hash, a full export must start at seq 1 or at a signed prune
anchor, and the signed proof on the last line must agree with the header, the counts, both ends of the chain
and the records after the last checkpoint (so the first record it contradicts is named).

Records are checked one line at a time in bounded memory; only the problems found, and the hashes of at most
MAX_TAIL records since the last checkpoint, are kept.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.canonical import canonical_bytes
from audit.checkpoints import SIGNING_DOMAIN as CHECKPOINT_DOMAIN
from audit.checkpoints import Checkpoint, InvalidCheckpointError
from audit.events import genesis_hash
from audit.export.jsonl import (
    MAX_TAIL,
    PROOF_DOMAIN,
    TAIL_HASH_HEX,
    ExportHeader,
    ExportProof,
    InvalidExportError,
    header_hash,
)
from audit.signing import key_id, statement_signature_valid

MAX_PROBLEMS = 10_000
_RECORD_FIELDS = frozenset(("body", "hash", "type"))
_BODY_FIELDS = frozenset(
    {"v", "tenant", "seq", "prev", "id", "time", "actor", "action", "target", "outcome", "reason", "request_id"}
    | {"trace_id", "details"}
)
_ACTOR_FIELDS = frozenset(("kind", "id", "email", "ip", "user_agent"))


class ProblemKind(StrEnum):
    ALTERED_RECORD = "altered-record"  # content does not match its hash, or the hash the proof signs
    BROKEN_LINK = "broken-link"  # prev is not the previous record's hash
    SEQUENCE_GAP = "sequence-gap"  # records missing (deleted), also at the start of a full export
    DUPLICATE = "duplicate"  # a seq, record or checkpoint repeated
    REORDERED = "reordered"  # a record or checkpoint out of order (a checkpoint not right after its record)
    INSERTED_RECORD = "inserted-record"  # a record that is not part of the chain
    WRONG_TENANT = "wrong-tenant"  # a record or checkpoint of another tenant
    BAD_CHECKPOINT_SIGNATURE = "bad-checkpoint-signature"
    CHECKPOINT_MISMATCH = "checkpoint-mismatch"  # a signed head hash differs from the record's hash
    MISSING_CHECKPOINT = "missing-checkpoint"  # fewer checkpoints or anchors than the proof counts
    TRUNCATED = "truncated"  # proof missing, or the file ends before what the proof or a checkpoint covers
    ALTERED_HEADER = "altered-header"  # the header differs from the one the proof signs
    BAD_PROOF_SIGNATURE = "bad-proof-signature"
    MALFORMED_LINE = "malformed-line"  # not JSON, not canonical, an unknown or missing field, a blank line
    UNKNOWN_KEY = "unknown-key"  # signed by a key other than the one(s) given


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based line number in the export
    seq: int | None  # the record's sequence number, when the problem concerns one
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class VerifyReport:
    tenant: str | None = None
    records: int = 0
    checkpoints: int = 0
    anchors: int = 0
    pruned_count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    proof_verified: bool = False
    problems: list[Problem] = field(default_factory=list)
    omitted_problems: int = 0  # found beyond MAX_PROBLEMS and not listed

    @property
    def ok(self) -> bool:
        return not self.problems and not self.omitted_problems

    def summary(self) -> str:
        span = f"seq {self.first_seq}..{self.last_seq}" if self.first_seq is not None else "no records"
        pruned = f", {self.pruned_count} earlier records pruned under an anchor" if self.anchors else ""
        proof = "proof verified" if self.proof_verified else "proof NOT verified"
        return (
            f"{self.records} records ({span}) of tenant {self.tenant or '?'}, "
            f"{self.checkpoints} signed checkpoints{pruned}; {proof}"
        )


@dataclass
class _Gap:
    """Sequence numbers missing between two records; filled in if they turn up later (reordering)."""

    problem: Problem
    first: int
    last: int
    seen: set[int] = field(default_factory=set)


def _as_keys(public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
    if not keys:
        raise ValueError("at least one public key is needed to verify an export")
    return {key_id(key): key for key in keys}


class _Verifier:
    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self.keys = keys
        self.report = VerifyReport()
        self.problems: list[Problem] = []
        self.header: dict[str, Any] | None = None
        self.full_export = False  # the header has no `since`: the file must hold the chain from its start
        self.proof: ExportProof | None = None
        self.proof_line = 0
        self.unknown_keys: set[str] = set()
        # The chain so far: the last seq and the hash(es) of records claiming it (several = insertion).
        self.last_seq: int | None = None
        self.heads: dict[str, int] = {}
        self.first_line = 0
        self.first_prev: str | None = None
        self.anchor: Checkpoint | None = None
        self.anchor_lines = 0
        self.start_reported = False  # a full export that does not start at its chain's start
        self.gaps: list[_Gap] = []
        self.pending: list[tuple[int, Checkpoint]] = []  # checkpoints over records not seen yet
        self.checkpointed: dict[int, int] = {}  # seq -> line of the checkpoint accepted for it
        self.starts: list[tuple[int, Checkpoint]] = []  # checkpoints whose signed chain start is checked at the end
        self.tail: deque[tuple[int, int, str]] = deque(maxlen=MAX_TAIL)  # (line, seq, hash) since the last checkpoint
        self.record_problem = False
        self.started = False

    # -- problems ---------------------------------------------------------------------------------------

    def problem(self, line: int, seq: int | None, kind: ProblemKind, message: str) -> Problem:
        found = Problem(line, seq, kind, message)
        if kind not in (ProblemKind.MALFORMED_LINE, ProblemKind.UNKNOWN_KEY):
            self.record_problem = True
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(found)
        else:
            self.report.omitted_problems += 1
        return found

    # -- lines ------------------------------------------------------------------------------------------

    def run(self, lines: Iterable[bytes]) -> int:
        """Check every line; returns how many there were. An intact record in canonical form that simply
        continues the chain takes the inlined fast path, on local copies of the chain's state (written back
        before anything else is checked); everything else goes through `dispatch`."""
        loads, dumps, sha256, sort_keys = orjson.loads, orjson.dumps, hashlib.sha256, orjson.OPT_SORT_KEYS
        body_size, actor_size, tail_append = len(_BODY_FIELDS), len(_ACTOR_FIELDS), self.tail.append
        fast, last_seq, head, head_line, tenant, fast_records = self.fast_state()
        number = 0
        for number, raw in enumerate(lines, start=1):
            try:
                item = loads(raw)
            except orjson.JSONDecodeError:
                message = "not valid JSON" if raw.strip() else "a blank line (an export has none)"
                self.problem(number, None, ProblemKind.MALFORMED_LINE, message)
                continue
            if fast and type(item) is dict and item.get("type") == "record":
                body = item.get("body")
                stated = item.get("hash")
                # `raw` equal to the canonical line leaves no room for another field or a duplicate key; the
                # field counts send a record with a field too many or too few to the full check.
                if (
                    type(body) is dict
                    and type(stated) is str
                    and type(seq := body.get("seq")) is int
                    and seq == last_seq + 1
                    and body.get("prev") == head
                    and body.get("tenant") == tenant
                    and len(body) == body_size
                    and type(actor := body.get("actor")) is dict
                    and len(actor) == actor_size
                    and sha256(encoded := dumps(body, option=sort_keys)).hexdigest() == stated
                    and raw == b'{"body":' + encoded + b',"hash":"' + stated.encode() + b'","type":"record"}\n'
                ):
                    last_seq, head, head_line = seq, stated, number
                    tail_append((number, seq, stated))
                    fast_records += 1
                    continue
            if fast:
                self.last_seq, self.heads = last_seq, {head: head_line}
                self.report.records += fast_records
            self.canonical(number, raw, item)
            self.dispatch(number, item)  # a non-canonical line is reported, and still checked as read
            fast, last_seq, head, head_line, tenant, fast_records = self.fast_state()
        if fast:
            self.last_seq, self.heads = last_seq, {head: head_line}
            self.report.records += fast_records
        return number

    def fast_state(self) -> tuple[bool, int, str, int, str | None, int]:
        """Whether the next record may take the fast path, and the chain state it starts from."""
        if len(self.heads) != 1 or self.pending or self.proof_line or self.last_seq is None:
            return False, 0, "", 0, None, 0
        ((head, head_line),) = self.heads.items()
        return True, self.last_seq, head, head_line, self.report.tenant, 0

    def canonical(self, line: int, raw: bytes, item: Any) -> None:
        """Report `raw` unless it is exactly the canonical encoding of `item` plus a newline. Duplicate keys,
        whitespace, another key order or a missing final newline all differ from it."""
        try:
            expected = canonical_bytes(item) + b"\n"
        except orjson.JSONEncodeError:
            expected = b""
        if raw != expected:
            self.problem(
                line,
                None,
                ProblemKind.MALFORMED_LINE,
                "the line is not in canonical form (sorted keys, no whitespace, no duplicate keys, one newline)",
            )

    def dispatch(self, line: int, item: Any) -> None:
        kind = item.get("type") if isinstance(item, dict) else None
        if not self.started:
            self.started = True
            self.on_header(line, item)
        elif self.proof_line:
            self.after_proof(line, kind)
        elif kind == "record":
            self.on_record(line, item)
        elif kind in ("checkpoint", "anchor"):
            self.on_checkpoint(line, item)
        elif kind == "proof":
            self.on_proof(line, item)
        else:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, f"unknown line type {kind!r}")

    def on_header(self, line: int, item: Any) -> None:
        try:
            header = ExportHeader.from_json(item)
        except (InvalidExportError, KeyError, TypeError) as exc:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, f"bad export header: {exc}")
            return
        self.header = item
        self.full_export = header.since is None
        self.report.tenant = header.tenant
        self.check_key(line, header.key_id, "the export")

    def check_key(self, line: int, signer: str, what: str) -> Ed25519PublicKey | None:
        key = self.keys.get(signer)
        if key is None and signer not in self.unknown_keys:
            self.unknown_keys.add(signer)
            given = ", ".join(sorted(self.keys))
            self.problem(
                line, None, ProblemKind.UNKNOWN_KEY, f"{what} is signed by key {signer}; the key given is {given}"
            )
        return key

    def after_proof(self, line: int, kind: object) -> None:
        if kind == "record":
            self.problem(line, None, ProblemKind.INSERTED_RECORD, "a record after the proof (the last line)")
        else:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, "a line after the proof (the last line)")

    def on_record(self, line: int, item: dict[str, Any]) -> None:
        body = item.get("body")
        stated = item.get("hash")
        if type(body) is not dict or type(stated) is not str or item.keys() != _RECORD_FIELDS:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, "a record line has exactly a body, a hash and a type")
            return
        seq = body.get("seq")
        prev = body.get("prev")
        if type(seq) is not int or type(prev) is not str:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, "the record body lacks an integer seq or a prev")
            return
        actor = body.get("actor")
        if body.keys() != _BODY_FIELDS or type(actor) is not dict or actor.keys() != _ACTOR_FIELDS:
            self.problem(line, seq, ProblemKind.MALFORMED_LINE, "the record body's fields are not those of a record")
            return
        actual = hashlib.sha256(canonical_bytes(body)).hexdigest()
        altered = actual != stated
        if altered:
            self.problem(
                line, seq, ProblemKind.ALTERED_RECORD, "the record's content does not match its hash: it was altered"
            )
        report = self.report
        tenant = body.get("tenant")
        if report.tenant is None and isinstance(tenant, str):
            report.tenant = tenant
        if tenant != report.tenant:
            self.problem(
                line, seq, ProblemKind.WRONG_TENANT, f"a record of tenant {tenant!r} in {report.tenant}'s export"
            )
            if not altered:
                return  # a whole record from elsewhere: leave the chain as it was
        report.records += 1
        if self.pending:
            self.match_pending(line, seq, stated)
        last = self.last_seq
        if last is None:
            self.first_record(line, seq, prev, stated)
        elif seq == last + 1:
            if prev in self.heads:
                self.settle_heads(prev)
            else:
                self.broken_link(line, seq)
                self.settle_heads(None)
            self.last_seq, self.heads = seq, {stated: line}
        elif seq > last + 1:
            self.settle_heads(None)
            gap = self.problem(
                line, seq, ProblemKind.SEQUENCE_GAP, f"records {_span(last + 1, seq - 1)} are missing (deleted)"
            )
            self.gaps.append(_Gap(gap, last + 1, seq - 1))
            self.last_seq, self.heads = seq, {stated: line}
        elif seq == last:
            if stated in self.heads:
                self.problem(line, seq, ProblemKind.DUPLICATE, f"the same record as line {self.heads[stated]}")
            else:
                self.heads[stated] = line  # which one belongs is settled by what comes next
            return
        else:
            self.out_of_order(line, seq)
            return
        self.tail.append((line, seq, stated))

    def first_record(self, line: int, seq: int, prev: str, stated: str) -> None:
        self.report.first_seq = seq
        self.first_line, self.first_prev = line, prev
        self.last_seq, self.heads = seq, {stated: line}
        anchor = self.anchor
        if anchor is not None:
            if seq != anchor.seq + 1:
                self.problem(
                    line,
                    seq,
                    ProblemKind.SEQUENCE_GAP,
                    f"the anchor ends at seq {anchor.seq} but records start at {seq}: "
                    f"records {_span(anchor.seq + 1, seq - 1)} are missing",
                )
            elif prev != anchor.head_hash:
                self.problem(line, seq, ProblemKind.BROKEN_LINK, "does not link to the hash signed by the anchor")
        elif seq == 1:
            if prev != genesis_hash(self.report.tenant or ""):
                self.problem(
                    line, seq, ProblemKind.BROKEN_LINK, "the first record does not start from the genesis hash"
                )
        elif self.full_export:
            self.start_reported = True
            self.problem(
                line,
                seq,
                ProblemKind.SEQUENCE_GAP,
                f"a full export starts at seq 1 or right after a signed prune anchor, this one at seq {seq} with "
                f"no anchor: records {_span(1, seq - 1)} are missing (the oldest records were deleted)",
            )

    def broken_link(self, line: int, seq: int) -> None:
        lines = ", ".join(str(number) for number in self.heads.values())
        self.problem(
            line,
            seq,
            ProblemKind.BROKEN_LINK,
            f"prev is not the hash of record {seq - 1} (line {lines}): that record was altered, "
            "or records were removed or inserted here",
        )

    def settle_heads(self, genuine: str | None) -> None:
        """Several records claimed the last seq; `genuine` (when known) is the one the chain continues from."""
        if len(self.heads) < 2:
            return
        seq = self.last_seq
        for head, line in list(self.heads.items())[1:] if genuine is None else self.heads.items():
            if head != genuine:
                reason = "the chain continues from another record" if genuine else "another record claims it"
                self.problem(line, seq, ProblemKind.INSERTED_RECORD, f"not part of the chain: {reason}")

    def out_of_order(self, line: int, seq: int) -> None:
        for gap in self.gaps:
            if gap.first <= seq <= gap.last:
                gap.seen.add(seq)
                self.problem(line, seq, ProblemKind.REORDERED, f"record {seq} appears after record {self.last_seq}")
                return
        self.problem(
            line, seq, ProblemKind.DUPLICATE, f"seq {seq} comes after {self.last_seq}: a repeated or inserted record"
        )

    def on_checkpoint(self, line: int, item: dict[str, Any]) -> None:
        try:
            checkpoint = Checkpoint.from_json(item)
        except InvalidCheckpointError as exc:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, str(exc))
            return
        what = f"{checkpoint.kind} for seq {checkpoint.seq}"
        if checkpoint.tenant != self.report.tenant:
            self.problem(line, checkpoint.seq, ProblemKind.WRONG_TENANT, f"{what} of tenant {checkpoint.tenant}")
            return
        key = self.check_key(line, checkpoint.key_id, what)
        if key is None:
            return
        if not statement_signature_valid(key, CHECKPOINT_DOMAIN, checkpoint.signed_payload(), checkpoint.signature):
            self.problem(
                line, checkpoint.seq, ProblemKind.BAD_CHECKPOINT_SIGNATURE, f"{what}: signature does not verify"
            )
            return
        if checkpoint.kind == "anchor":
            self.on_anchor(line, checkpoint)
        else:
            self.place_checkpoint(line, checkpoint)

    def on_anchor(self, line: int, anchor: Checkpoint) -> None:
        if self.anchor is not None or self.anchor_lines:
            self.problem(line, anchor.seq, ProblemKind.DUPLICATE, "a second anchor: an export starts from one at most")
            return
        self.anchor_lines = line
        if self.last_seq is not None or self.pending:
            self.problem(line, anchor.seq, ProblemKind.REORDERED, "an anchor must come before the first record")
            return
        self.anchor = anchor
        self.report.anchors += 1
        self.report.pruned_count = anchor.pruned_count

    def place_checkpoint(self, line: int, checkpoint: Checkpoint) -> None:
        """A checkpoint belongs on the line right after the record it signs, once."""
        seq = checkpoint.seq
        if seq in self.checkpointed:
            self.problem(
                line, seq, ProblemKind.DUPLICATE, f"checkpoint for seq {seq} repeats line {self.checkpointed[seq]}"
            )
            return
        last = self.last_seq
        if last is None or seq > last:
            self.pending.append((line, checkpoint))
            return
        if seq < last or line - 1 not in self.heads.values():
            where = "before the export's first record" if seq < (self.report.first_seq or 0) else "elsewhere"
            self.problem(
                line,
                seq,
                ProblemKind.REORDERED,
                f"checkpoint for seq {seq} is not on the line after its record (its record is {where})",
            )
            return
        if checkpoint.head_hash not in self.heads:
            lines = ", ".join(str(number) for number in self.heads.values())
            self.problem(
                line,
                seq,
                ProblemKind.CHECKPOINT_MISMATCH,
                f"the signed hash for seq {seq} differs from the record's (line {lines}): "
                "that record, or one before it, was altered",
            )
            return
        genuine = checkpoint.head_hash
        self.settle_heads(genuine)
        self.heads = {genuine: self.heads[genuine]}
        self.accept(line, checkpoint)

    def accept(self, line: int, checkpoint: Checkpoint) -> None:
        self.checkpointed[checkpoint.seq] = line
        self.report.checkpoints += 1
        self.starts.append((line, checkpoint))
        self.tail.clear()

    def match_pending(self, line: int, seq: int, stated: str) -> None:
        """A checkpoint seen before its record: moved earlier, or (below the first record) from another range."""
        for pending in list(self.pending):
            checkpoint_line, checkpoint = pending
            if checkpoint.seq > seq:
                continue
            self.pending.remove(pending)
            if checkpoint.seq < seq:
                self.problem(
                    checkpoint_line,
                    checkpoint.seq,
                    ProblemKind.REORDERED,
                    f"checkpoint for seq {checkpoint.seq} does not follow its record: "
                    "it was moved, or taken from outside this export's range",
                )
            elif checkpoint.head_hash != stated:
                self.problem(
                    line,
                    seq,
                    ProblemKind.CHECKPOINT_MISMATCH,
                    f"the checkpoint on line {checkpoint_line} signs another hash for seq {seq}",
                )
            else:
                self.problem(
                    checkpoint_line,
                    seq,
                    ProblemKind.REORDERED,
                    f"checkpoint for seq {seq} comes before its record (line {line}): it was moved",
                )

    def on_proof(self, line: int, item: dict[str, Any]) -> None:
        self.proof_line = line
        try:
            proof = ExportProof.from_json(item)
        except InvalidExportError as exc:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, str(exc))
            return
        key = self.check_key(line, proof.key_id, "the proof")
        if key is None:
            return
        if not statement_signature_valid(key, PROOF_DOMAIN, proof.signed_payload(), proof.signature):
            self.problem(line, None, ProblemKind.BAD_PROOF_SIGNATURE, "the proof's signature does not verify")
            return
        self.proof = proof
        self.report.proof_verified = True

    # -- the end ----------------------------------------------------------------------------------------

    def finish(self, lines: int) -> VerifyReport:
        self.report.last_seq = self.last_seq
        if lines == 0:
            self.problem(1, None, ProblemKind.MALFORMED_LINE, "the file is empty")
        self.settle_heads(self.proof.last_hash if self.proof else None)
        for line, checkpoint in self.pending:
            self.problem(
                line,
                checkpoint.seq,
                ProblemKind.TRUNCATED,
                f"a checkpoint covers seq {checkpoint.seq} but the last record is {self.last_seq}: "
                "records were cut from the end",
            )
        if self.proof is None:
            if not self.proof_line:
                self.problem(lines, None, ProblemKind.TRUNCATED, "no proof line: the export was cut short")
        else:
            self.check_proof(self.proof)
        self.check_starts()
        for gap in self.gaps:
            if len(gap.seen) == gap.last - gap.first + 1:
                self.problems.remove(gap.problem)  # every missing record turned up later: reordered, not lost
        self.report.problems = sorted(self.problems, key=lambda found: found.line)
        return self.report

    def check_starts(self) -> None:
        """Each checkpoint signs where its chain started (after `pruned_count` pruned records). Records in the
        file before that point are not part of the chain the gateway signed."""
        first = self.report.first_seq
        if first is None:
            return
        for line, checkpoint in self.starts:
            if checkpoint.pruned_count >= first:
                self.problem(
                    line,
                    checkpoint.seq,
                    ProblemKind.INSERTED_RECORD,
                    f"checkpoint for seq {checkpoint.seq} signs that the chain starts after seq "
                    f"{checkpoint.pruned_count}, but the file holds records from seq {first}",
                )

    def check_proof(self, proof: ExportProof) -> None:
        line = self.proof_line
        report = self.report
        if self.header is None or header_hash(self.header) != proof.header_hash:
            self.problem(1, None, ProblemKind.ALTERED_HEADER, "the header is not the one the proof signs")
        if proof.last_seq != self.last_seq or (self.last_seq is not None and proof.last_hash not in self.heads):
            if proof.last_seq == self.last_seq and self.contradicted_tail(proof):
                pass  # reported as the altered record the proof contradicts
            else:
                self.problem(
                    line,
                    self.last_seq,
                    ProblemKind.TRUNCATED,
                    f"the proof says the export ends at seq {proof.last_seq}, the file ends at {self.last_seq}",
                )
        if report.first_seq != proof.first_seq and not self.start_reported:
            kind = (
                ProblemKind.SEQUENCE_GAP
                if report.first_seq is None or (proof.first_seq or 0) < report.first_seq
                else ProblemKind.INSERTED_RECORD
            )
            self.problem(
                self.first_line or line,
                report.first_seq,
                kind,
                f"the proof says the export starts at seq {proof.first_seq}, the file starts at {report.first_seq}",
            )
        elif report.first_seq == proof.first_seq and proof.first_prev != self.first_prev:
            self.problem(
                self.first_line,
                report.first_seq,
                ProblemKind.BROKEN_LINK,
                "the first record's prev is not the signed one",
            )
        # Checkpoints go missing with the records they cover, and one signed by a key not given is not counted.
        miscounted = report.anchors != proof.anchors or report.checkpoints != proof.checkpoints
        if miscounted and not self.record_problem and not self.unknown_keys:
            self.problem(
                line,
                None,
                ProblemKind.MISSING_CHECKPOINT,
                f"the proof counts {proof.checkpoints} checkpoints and {proof.anchors} anchors, "
                f"the file has {report.checkpoints} and {report.anchors} in their places",
            )
        if proof.records != report.records and not self.record_problem:
            self.problem(
                line,
                None,
                ProblemKind.TRUNCATED,
                f"the proof counts {proof.records} records, the file has {report.records}",
            )

    def contradicted_tail(self, proof: ExportProof) -> bool:
        """Report the first record after the last checkpoint whose hash the proof contradicts (a record altered
        and those after it rehashed, which no checkpoint covers); False when the tails agree."""
        signed = proof.tail
        held = list(self.tail)[-len(signed) :] if signed else []
        if len(held) != len(signed):
            return False
        for (line, seq, stated), expected in zip(held, signed, strict=True):
            if stated[:TAIL_HASH_HEX] != expected:
                self.problem(
                    line,
                    seq,
                    ProblemKind.ALTERED_RECORD,
                    f"the proof signs another hash for record {seq}: it was altered after export, and the "
                    "records after it rehashed to hide it (no checkpoint covers them; the proof does)",
                )
                return True
        return False


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"


def verify_export(lines: Iterable[bytes], public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey]) -> VerifyReport:
    """Check a JSONL export line by line. Give the gateway's public key (or several, across a rotation)."""
    verifier = _Verifier(_as_keys(public_key))
    return verifier.finish(verifier.run(lines))
