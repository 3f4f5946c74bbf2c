"""Offline verification of a JSONL export: what is wrong, and where, and what exactly was checked.

Needs only the export and the gateway's public key (or a key history and a key trusted from it). Every line must
be exactly the canonical encoding of its object (sorted keys, no whitespace, no duplicate key, no field beyond
its kind's, "\n" at the end): a file that another JSON parser could read differently is refused. Each record's
hash is recomputed over its body's canonical bytes, each record must link to the one before it, each checkpoint
must follow the record it signs, once, with a valid signature over that record's hash, a full export must start
at seq 1 or at a signed prune anchor, and the signed proof on the last line must agree with the header, the
counts, both ends of the chain and the records after the last checkpoint (so the first record it contradicts is
named).

Every record must also be covered by a tree head signed when it was committed: a checkpoint at or after it, or
the continuation that ends a range stopping between two signed heads (its RFC 9162 consistency proof must take
the records' tree to the signed one). The records' Merkle tree is rebuilt as they are read (from the tree-start
line when the export starts after seq 1), and every signed root must match it.

Records are checked one line at a time in bounded memory; only the problems found, and the hashes of at most
MAX_TAIL records since the last checkpoint, are kept.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.canonical import JsonValue, canonical_bytes
from audit.checkpoints import SIGNING_DOMAIN as CHECKPOINT_DOMAIN
from audit.checkpoints import Checkpoint, InvalidCheckpointError
from audit.events import format_time, genesis_hash
from audit.export.jsonl import (
    MAX_TAIL,
    PROOF_DOMAIN,
    TAIL_HASH_HEX,
    ExportHeader,
    ExportProof,
    InvalidExportError,
    header_hash,
)
from audit.keys import TrustedKeys, UntrustedKeyError
from audit.merkle import Frontier, InvalidProofError, leaf_hash, verify_consistency
from audit.signing import statement_signature_valid
from audit.treeproofs import CONTINUATION, TREE_START, Continuation, InvalidStatementError, TreeStart, raw_hashes

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
    UNSIGNED_RECORDS = "unsigned-records"  # records no signed tree head covers (the last signed ones were cut)
    MISSING_TREE_START = "missing-tree-start"  # a partial export without the subtrees its tree starts from
    TRUNCATED = "truncated"  # proof missing, or the file ends before what the proof or a checkpoint covers
    ALTERED_HEADER = "altered-header"  # the header differs from the one the proof signs
    BAD_PROOF_SIGNATURE = "bad-proof-signature"
    MALFORMED_LINE = "malformed-line"  # not JSON, not canonical, an unknown or missing field, a blank line
    UNKNOWN_KEY = "unknown-key"  # signed by a key not given, or outside its validity in the key history


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
    """What was checked, and every problem found. A partial export (since/until) says so in `summary`."""

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
    exported_at: str | None = None
    exported_by: str | None = None
    since: str | None = None
    until: str | None = None
    tree_head: Checkpoint | None = None  # the signed tree head the last record is bound to
    roots: dict[int, str] = field(default_factory=dict)  # tree size -> root rebuilt from the records read
    key_ids: list[str] = field(default_factory=list)  # keys whose signatures were accepted

    @property
    def ok(self) -> bool:
        return not self.problems and not self.omitted_problems

    @property
    def partial(self) -> bool:
        """A range export: records before `since` or from `until` on are not in the file by design."""
        return self.since is not None or self.until is not None

    def summary(self) -> str:
        span = f"seq {self.first_seq}..{self.last_seq}" if self.first_seq is not None else "no records"
        pruned = f", {self.pruned_count} earlier records pruned under an anchor" if self.anchors else ""
        proof = "proof verified" if self.proof_verified else "proof NOT verified"
        lines = [
            f"{self.records} records ({span}) of tenant {self.tenant or '?'}, "
            f"{self.checkpoints} signed checkpoints{pruned}; {proof}",
            f"exported at {self.exported_at or '?'} by {self.exported_by or '?'}",
        ]
        if self.partial:
            lines.append(
                f"PARTIAL export: since {self.since or 'the start'}, until {self.until or 'the export'}; records "
                "outside that range are not in this file"
            )
        else:
            lines.append("full export: from the chain's start to its head when exported")
        head = self.tree_head
        if head is not None:
            extra = (
                "" if head.seq == self.last_seq else f" (the file ends at {self.last_seq}: bound by consistency proof)"
            )
            lines.append(
                f"signed tree head: size {head.seq}{extra}, root {head.root}, signed {format_time(head.time)} by key "
                f"{head.key_id}"
            )
        else:
            lines.append("signed tree head: none verified")
        return "\n".join(lines)

    def to_json(self) -> dict[str, JsonValue]:
        """The report for scripts (`enclave audit verify --json`)."""
        return {
            "ok": self.ok,
            "tenant": self.tenant,
            "partial": self.partial,
            "since": self.since,
            "until": self.until,
            "exported_at": self.exported_at,
            "exported_by": self.exported_by,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "checkpoints": self.checkpoints,
            "anchors": self.anchors,
            "pruned_count": self.pruned_count,
            "proof_verified": self.proof_verified,
            "tree_head": None if self.tree_head is None else self.tree_head.to_json(),
            "roots": {str(size): root for size, root in sorted(self.roots.items())},
            "key_ids": list(self.key_ids),
            "problems": [
                {"line": p.line, "seq": p.seq, "kind": p.kind.value, "message": p.message} for p in self.problems
            ],
            "omitted_problems": self.omitted_problems,
        }


@dataclass
class _Gap:
    """Sequence numbers missing between two records; filled in if they turn up later (reordering)."""

    problem: Problem
    first: int
    last: int
    seen: set[int] = field(default_factory=set)


def trusted(public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | TrustedKeys) -> TrustedKeys:
    if isinstance(public_key, TrustedKeys):
        return public_key
    return TrustedKeys([public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key))


class _Verifier:
    def __init__(self, keys: TrustedKeys, roots_at: Iterable[int] = ()) -> None:
        self.keys = keys
        self.report = VerifyReport()
        self.roots_at = set(roots_at)
        self.tree: Frontier | None = None  # the records' Merkle tree so far, while it is known
        self.start: TreeStart | None = None
        self.start_line = 0
        self.continuation: tuple[int, Continuation] | None = None
        self.covered_by_continuation = False
        self.problems: list[Problem] = []
        self.header: dict[str, Any] | None = None
        self.full_export = False  # the header has no `since`: the file must hold the chain from its start
        self.proof: ExportProof | None = None
        self.proof_line = 0
        self.unknown_keys: set[str] = set()
        self.exported_at: datetime | None = None
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
        roots_at, roots = self.roots_at, self.report.roots
        fast, last_seq, head, head_line, tenant, fast_records = self.fast_state()
        tree = self.tree
        digests: list[bytes] = []  # records' digests not yet in the tree: added in bulk (Frontier.extend_digests)
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
                    and (digest := sha256(encoded := dumps(body, option=sort_keys)).digest()).hex() == stated
                    and raw == b'{"body":' + encoded + b',"hash":"' + stated.encode() + b'","type":"record"}\n'
                ):
                    last_seq, head, head_line = seq, stated, number
                    tail_append((number, seq, stated))
                    fast_records += 1
                    if tree is not None:
                        digests.append(digest)
                        if seq in roots_at:
                            tree.extend_digests(digests)
                            digests.clear()
                            roots[seq] = tree.root().hex()
                    continue
            if fast:
                self.last_seq, self.heads = last_seq, {head: head_line}
                self.report.records += fast_records
                if tree is not None:
                    tree.extend_digests(digests)
                digests.clear()
            self.canonical(number, raw, item)
            self.dispatch(number, item)  # a non-canonical line is reported, and still checked as read
            fast, last_seq, head, head_line, tenant, fast_records = self.fast_state()
            tree = self.tree
        if fast:
            self.last_seq, self.heads = last_seq, {head: head_line}
            self.report.records += fast_records
            if tree is not None:
                tree.extend_digests(digests)
        return number

    def fast_state(self) -> tuple[bool, int, str, int, str | None, int]:
        """Whether the next record may take the fast path, and the chain state it starts from."""
        if len(self.heads) != 1 or self.pending or self.proof_line or self.last_seq is None or self.continuation:
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
            if self.continuation is not None:
                self.problem(line, None, ProblemKind.INSERTED_RECORD, "a record after the continuation line")
            self.on_record(line, item)
        elif kind in ("checkpoint", "anchor"):
            self.on_checkpoint(line, item)
        elif kind == TREE_START:
            self.on_start(line, item)
        elif kind == CONTINUATION:
            self.on_continuation(line, item)
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
        report = self.report
        report.tenant, report.exported_by = header.tenant, header.exported_by
        report.exported_at = item["exported_at"]
        report.since, report.until = item["since"], item["until"]
        self.exported_at = header.exported_at
        self.check_key(line, header.key_id, header.exported_at, "the export")

    def check_key(self, line: int, signer: str, at: datetime | None, what: str) -> Ed25519PublicKey | None:
        """The key that may sign `what` dated `at`; None (reported once per key and reason) otherwise."""
        try:
            key = self.keys.key_for(signer, at, what)
        except UntrustedKeyError as exc:
            reason = f"{signer}:{'validity' if signer in self.keys.validity else 'unknown'}"
            if reason not in self.unknown_keys:
                self.unknown_keys.add(reason)
                self.problem(line, None, ProblemKind.UNKNOWN_KEY, str(exc))
            return None
        if signer not in self.report.key_ids:
            self.report.key_ids.append(signer)
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
            if len(self.heads) > 1:
                self.tree = None  # which of two records is in the tree is settled by the chain, not here
            if prev in self.heads:
                self.settle_heads(prev)
            else:
                self.broken_link(line, seq)
                self.settle_heads(None)
                self.tree = None  # reported as a broken link; the signed roots cannot add to it
            self.last_seq, self.heads = seq, {stated: line}
            self.grow(seq, stated)
        elif seq > last + 1:
            self.tree = None
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

    def grow(self, seq: int, stated: str) -> None:
        """Add record `seq` to the tree, if the tree is known up to the record before."""
        tree = self.tree
        if tree is None:
            return
        if tree.size != seq - 1 or len(stated) != 64:
            self.tree = None
            return
        tree.append(leaf_hash(bytes.fromhex(stated)))
        if seq in self.roots_at:
            self.report.roots[seq] = tree.root().hex()

    def first_record(self, line: int, seq: int, prev: str, stated: str) -> None:
        self.report.first_seq = seq
        self.first_line, self.first_prev = line, prev
        self.last_seq, self.heads = seq, {stated: line}
        self.tree = self.starting_tree(line, seq)
        self.grow(seq, stated)
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

    def starting_tree(self, line: int, seq: int) -> Frontier | None:
        """The tree the first record joins: empty at seq 1, else the tree-start line's (checked against the
        anchor's signed root when the export starts at a prune anchor)."""
        start, anchor = self.start, self.anchor
        if seq == 1 and start is None:
            return Frontier()
        if start is None:
            if self.full_export and anchor is None:
                return None  # reported as a sequence gap: a full export starts at seq 1 or at an anchor
            self.problem(
                line,
                seq,
                ProblemKind.MISSING_TREE_START,
                f"the export starts at seq {seq} without the tree-start line that gives the tree of records "
                f"1..{seq - 1}: its signed roots cannot be checked",
            )
            return None
        if start.size != seq - 1:
            self.problem(
                self.start_line,
                seq,
                ProblemKind.MISSING_TREE_START,
                f"the tree-start line gives the tree of {start.size} records, but the records start at seq {seq}",
            )
            return None
        if anchor is not None and anchor.seq == start.size and anchor.root != start.root():
            self.problem(
                self.start_line,
                None,
                ProblemKind.CHECKPOINT_MISMATCH,
                f"the tree-start subtrees do not make the root the prune anchor signs for records 1..{anchor.seq}",
            )
            return None
        if start.size in self.roots_at:
            self.report.roots[start.size] = start.root()  # proven by the signed roots after it
        return start.frontier()

    def on_start(self, line: int, item: dict[str, Any]) -> None:
        try:
            start = TreeStart.from_json(item)
        except InvalidStatementError as exc:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, f"bad tree-start line: {exc}")
            return
        if self.start is not None:
            self.problem(
                line, None, ProblemKind.DUPLICATE, f"a second tree-start line (the first is line {self.start_line})"
            )
            return
        if self.last_seq is not None:
            self.problem(line, None, ProblemKind.REORDERED, "the tree-start line must come before the first record")
            return
        self.start, self.start_line = start, line

    def on_continuation(self, line: int, item: dict[str, Any]) -> None:
        try:
            continuation = Continuation.from_json(item)
        except InvalidStatementError as exc:
            self.problem(line, None, ProblemKind.MALFORMED_LINE, f"bad continuation line: {exc}")
            return
        head = continuation.tree_head
        if head.tenant != self.report.tenant:
            self.problem(line, head.seq, ProblemKind.WRONG_TENANT, f"a tree head of tenant {head.tenant}")
            return
        if self.continuation is not None:
            self.problem(line, head.seq, ProblemKind.DUPLICATE, "a second continuation line")
            return
        what = f"the tree head over {head.seq} records in the continuation"
        key = self.check_key(line, head.key_id, head.time, what)
        if key is None:
            return
        if not statement_signature_valid(key, CHECKPOINT_DOMAIN, head.signed_payload(), head.signature):
            self.problem(line, head.seq, ProblemKind.BAD_CHECKPOINT_SIGNATURE, f"{what}: signature does not verify")
            return
        self.continuation = (line, continuation)

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
        key = self.check_key(line, checkpoint.key_id, checkpoint.time, what)
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
        tree = self.tree
        if tree is not None and tree.size == seq and tree.root().hex() != checkpoint.root:
            self.problem(
                line,
                seq,
                ProblemKind.CHECKPOINT_MISMATCH,
                f"the signed root for records 1..{seq} differs from the tree of the records read: "
                + ("the tree-start line was forged" if self.start is not None else "a record was altered"),
            )
            self.tree = None
            return
        self.accept(line, checkpoint)

    def accept(self, line: int, checkpoint: Checkpoint) -> None:
        self.checkpointed[checkpoint.seq] = line
        self.report.checkpoints += 1
        self.report.tree_head = checkpoint
        if self.tree is not None:
            self.report.roots[checkpoint.seq] = checkpoint.root
        self.starts.append((line, checkpoint))

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
        key = self.check_key(line, proof.key_id, self.exported_at, "the proof")
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
        self.check_continuation()
        if self.proof is None:
            if not self.proof_line:
                self.problem(lines, None, ProblemKind.TRUNCATED, "no proof line: the export was cut short")
        else:
            self.check_proof(self.proof)
        self.check_starts()
        if not self.record_problem and not self.unknown_keys:  # else those problems explain it
            self.check_unsigned(lines)
        for gap in self.gaps:
            if len(gap.seen) == gap.last - gap.first + 1:
                self.problems.remove(gap.problem)  # every missing record turned up later: reordered, not lost
        self.report.problems = sorted(self.problems, key=lambda found: found.line)
        return self.report

    def check_continuation(self) -> None:
        """A continuation binds the last record to a later signed tree head: the records' tree must be
        consistent with the signed one (RFC 9162 consistency proof)."""
        last = self.last_seq
        if last is None:
            return
        tree = self.tree
        if tree is not None and tree.size == last:
            self.report.roots[last] = tree.root().hex()
        if self.continuation is None:
            return
        line, continuation = self.continuation
        if continuation.size != last:
            self.problem(
                line,
                last,
                ProblemKind.TRUNCATED,
                f"the continuation binds records 1..{continuation.size}, the file ends at {last}",
            )
            return
        if tree is None or tree.size != last:
            if not self.record_problem:
                self.problem(
                    line,
                    last,
                    ProblemKind.MISSING_TREE_START,
                    "the continuation cannot be checked: the records' tree is not known",
                )
            return
        head = continuation.tree_head
        try:
            verify_consistency(
                last, head.seq, tree.root(), bytes.fromhex(head.root), raw_hashes(continuation.consistency)
            )
        except InvalidProofError as exc:
            self.problem(
                line,
                last,
                ProblemKind.CHECKPOINT_MISMATCH,
                f"the records are not the first {last} of the tree signed over {head.seq} records ({exc})",
            )
            return
        if last in self.checkpointed:
            self.problem(line, last, ProblemKind.DUPLICATE, "a continuation after the checkpoint over the last record")
            return
        self.covered_by_continuation = True
        self.report.tree_head = head

    def check_unsigned(self, lines: int) -> None:
        """The last record must be covered by a tree head signed when it was committed."""
        last = self.last_seq
        if last is None or last in self.checkpointed or self.covered_by_continuation:
            return
        signed = max((seq for seq in self.checkpointed if seq <= last), default=None)
        first = (signed + 1) if signed is not None else (self.report.first_seq or last)
        line = next(iter(self.heads.values()), lines)
        self.problem(
            line,
            last,
            ProblemKind.UNSIGNED_RECORDS,
            f"records {_span(first, last)} are covered by no signed tree head"
            + (f" (the last one in the file signs seq {signed})" if signed is not None else "")
            + ": the signed heads over them were cut, or they were added without the gateway's key",
        )

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


def verify_export(
    lines: Iterable[bytes],
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | TrustedKeys,
    *,
    roots_at: Iterable[int] = (),
) -> VerifyReport:
    """Check a JSONL export line by line. Give the gateway's public key (or several, across a rotation, or
    TrustedKeys built from a key history). The roots of the records' tree at the sizes in `roots_at` (and at
    every checkpoint and at the last record) are in `report.roots`, to compare with another export's."""
    verifier = _Verifier(trusted(public_key), roots_at)
    return verifier.finish(verifier.run(lines))
