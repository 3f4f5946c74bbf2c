"""Offline checks of tree proofs: one event's inclusion, a log's consistency with a head held earlier, and the
continuity of one export with the next. Needs only the proofs, the files and the public key(s).

Each check returns a ProofReport that says what was established (tenant, sizes, roots, signing times and keys)
as well as what failed, so a stale or partial answer never reads like a complete current one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.canonical import JsonValue, canonical_bytes
from audit.checkpoints import Checkpoint, InvalidCheckpointError
from audit.events import format_time
from audit.keys import TrustedKeys, signature_problem
from audit.merkle import InvalidProofError, leaf_hash, verify_consistency, verify_inclusion
from audit.treeproofs import ConsistencyProof, InclusionProof, InvalidStatementError, raw_hashes
from audit.verify import VerifyReport, trusted, verify_export


@dataclass
class ProofReport:
    checked: list[str] = field(default_factory=list)  # what was established, in plain words
    problems: list[str] = field(default_factory=list)
    tree_head: Checkpoint | None = None  # the signed tree head the answer rests on

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"checked: {item}" for item in self.checked]
        lines += [f"FAILED: {problem}" for problem in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "ok": self.ok,
            "checked": list(self.checked),
            "problems": list(self.problems),
            "tree_head": None if self.tree_head is None else self.tree_head.to_json(),
        }


def describe(head: Checkpoint) -> str:
    return (
        f"the tree head of {head.tenant} over {head.seq} records (root {head.root[:16]}…), signed "
        f"{format_time(head.time)} by key {head.key_id}"
    )


def check_signed_head(
    head: Checkpoint, keys: TrustedKeys, report: ProofReport, what: str, *, anchor_ok: bool = False
) -> bool:
    """Whether `head` is a signed tree head (or, with `anchor_ok`, a prune anchor, which signs the pruned
    prefix's root) by a trusted key valid at its time (problems go in `report`)."""
    if head.kind != "checkpoint" and not anchor_ok:
        report.problems.append(f"{what} is a {head.kind}, not a signed tree head")
        return False
    problem = signature_problem(keys, head, what)
    if problem is not None:
        report.problems.append(problem)
    return problem is None


def verify_inclusion_proof(proof: InclusionProof, public_key: Any, *, against: Checkpoint | None = None) -> ProofReport:
    """Check that `proof.body` is record `proof.seq` of the tree its signed head signs (and, with `against`, that
    this head is the one the verifier already holds)."""
    keys = trusted(public_key)
    report = ProofReport(tree_head=proof.tree_head)
    head = proof.tree_head
    if not check_signed_head(head, keys, report, "the proof's tree head"):
        return report
    body = orjson.loads(proof.body)
    digest = hashlib.sha256(proof.body).digest()
    if digest.hex() != proof.record_hash:
        report.problems.append("the record's content does not match its hash: it was altered")
    if body.get("seq") != proof.seq or body.get("tenant") != proof.tenant or head.tenant != proof.tenant:
        report.problems.append("the record, the proof and the tree head do not name the same tenant and seq")
    try:
        verify_inclusion(proof.seq - 1, head.seq, leaf_hash(digest), raw_hashes(proof.path), bytes.fromhex(head.root))
    except InvalidProofError as exc:
        report.problems.append(f"record {proof.seq} is not in the signed tree: {exc}")
    if against is not None and (against.seq, against.root) != (head.seq, head.root):
        report.problems.append(
            f"the proof is against the tree of {head.seq} records, not the one given ({against.seq} records)"
        )
    if report.ok:
        report.checked.append(
            f"record {proof.seq} of {proof.tenant} ({body.get('action')} at {body.get('time')}) is in {describe(head)}"
        )
    return report


def verify_consistency_proof(
    proof: ConsistencyProof, public_key: Any, *, previous: Checkpoint | None = None
) -> ProofReport:
    """Check that the tree `proof.tree_head` signs extends the earlier one. The earlier root comes from
    `previous` (a signed head the verifier holds: an earlier export's, the bucket's); without it, from the
    proof's own signed old head, or else its stated root, and the report says which."""
    keys = trusted(public_key)
    report = ProofReport(tree_head=proof.tree_head)
    head = proof.tree_head
    if not check_signed_head(head, keys, report, "the proof's tree head"):
        return report
    old_root, source = proof.old_root, "stated by the proof itself (unsigned: give --previous for an independent check)"
    if previous is not None:
        if not check_signed_head(previous, keys, report, "the earlier tree head"):
            return report
        if previous.seq != proof.old_size or previous.tenant != head.tenant:
            report.problems.append(
                f"the proof starts from {proof.old_size} records of {proof.tenant}, the earlier head covers "
                f"{previous.seq} records of {previous.tenant}"
            )
            return report
        old_root, source = previous.root, f"from {describe(previous)} (held by the verifier)"
    elif proof.old_head is not None:
        if not check_signed_head(proof.old_head, keys, report, "the proof's old tree head", anchor_ok=True):
            return report
        if proof.old_head.seq != proof.old_size:
            report.problems.append("the proof's old tree head is not at its old size")
            return report
        old_root, source = proof.old_head.root, f"from {describe(proof.old_head)}"
    if head.tenant != proof.tenant:
        report.problems.append("the proof and its tree head name different tenants")
        return report
    try:
        verify_consistency(
            proof.old_size, head.seq, bytes.fromhex(old_root), bytes.fromhex(head.root), raw_hashes(proof.path)
        )
    except InvalidProofError as exc:
        report.problems.append(
            f"the log of {head.tenant} over {head.seq} records does not extend the one over {proof.old_size}: {exc}"
        )
        return report
    report.checked.append(
        f"{describe(head)} extends the tree of the first {proof.old_size} records (root {old_root[:16]}…, {source})"
    )
    return report


def verify_extends(
    previous: VerifyReport,
    current: VerifyReport,
    public_key: Any,
    proof: ConsistencyProof | None = None,
) -> ProofReport:
    """Check that the export behind `current` continues the one behind `previous` (both already verified;
    `current` verified with `roots_at=continuity_sizes(previous)`): same tenant, a log at least as long, and the
    same tree at the earlier export's signed size, from the records themselves when `current` reaches back that
    far, else through a consistency proof to `current`'s signed head."""
    report = ProofReport(tree_head=current.tree_head)
    old, new = previous.tree_head, current.tree_head
    if not previous.ok or not current.ok or old is None or new is None:
        report.problems.append("both exports must verify, with a signed tree head, before continuity is checked")
        return report
    if old.tenant != new.tenant:
        report.problems.append(f"the exports are of different tenants ({old.tenant}, {new.tenant})")
        return report
    if new.seq < old.seq:
        report.problems.append(
            f"the log shrank: the earlier export's signed head covers {old.seq} records, this one's {new.seq}"
        )
        return report
    held = current.roots.get(old.seq)
    if held is not None:
        if held != old.root:
            report.problems.append(
                f"the records of this export give another tree at size {old.seq} than the earlier export's signed "
                "head: the log was rewritten between the two exports"
            )
        else:
            report.checked.append(
                f"this export's records give the earlier export's signed tree at size {old.seq}: it extends it"
            )
        return report
    if proof is None:
        report.problems.append(
            f"this export does not reach back to record {old.seq} (it starts at {current.first_seq}): give a "
            f"consistency proof (enclave audit prove --consistency {old.seq})"
        )
        return report
    checked = verify_consistency_proof(proof, public_key, previous=old)
    report.problems += checked.problems
    if checked.ok and (proof.tree_head.seq, proof.tree_head.root) != (new.seq, new.root):
        consistent = current.roots.get(proof.tree_head.seq) == proof.tree_head.root
        if not consistent:
            report.problems.append(
                f"the consistency proof ends at {proof.tree_head.seq} records, not at this export's signed head"
                f" ({new.seq} records)"
            )
    if report.ok:
        report.checked += checked.checked
        report.checked.append(f"this export's signed head (size {new.seq}) extends the earlier export's ({old.seq})")
    return report


def continuity_sizes(previous: VerifyReport) -> set[int]:
    """The tree sizes whose roots `verify_export` must record in the next export to compare with `previous`."""
    return set() if previous.tree_head is None else {previous.tree_head.seq}


def verify_export_extends(
    previous_lines: Iterable[bytes],
    current_lines: Iterable[bytes],
    public_key: Any,
    proof: ConsistencyProof | None = None,
) -> tuple[VerifyReport, VerifyReport, ProofReport]:
    """Verify an earlier export, then this one, then that this one continues it (the auditor's monthly check)."""
    keys = trusted(public_key)
    previous = verify_export(previous_lines, keys)
    current = verify_export(current_lines, keys, roots_at=continuity_sizes(previous))
    return previous, current, verify_extends(previous, current, keys, proof)


def signed_head_from(data: bytes, public_key: Any) -> Checkpoint:
    """A signed tree head the verifier holds, from a file: a JSONL export (its verified final head), a tree head
    (a checkpoint line), a bucket head object, or a proof (its tree head). InvalidStatementError when none."""
    keys = trusted(public_key)
    first = data.split(b"\n", 1)[0]
    try:
        item = orjson.loads(first if b'"type":"header"' in first else data)
    except orjson.JSONDecodeError:
        raise InvalidStatementError("not JSON, nor a JSONL export") from None
    if isinstance(item, dict) and item.get("type") == "header":
        report = verify_export(data.splitlines(keepends=True), keys)
        if not report.ok or report.tree_head is None:
            raise InvalidStatementError("the export does not verify, so its signed tree head cannot be used")
        return report.tree_head
    if isinstance(item, dict) and isinstance(item.get("tree_head"), dict):
        item = item["tree_head"]
    try:
        head = Checkpoint.from_json(item)
    except InvalidCheckpointError as exc:
        raise InvalidStatementError(f"not a signed tree head: {exc}") from None
    checked = ProofReport()
    if not check_signed_head(head, keys, checked, "the tree head"):
        raise InvalidStatementError("; ".join(checked.problems))
    return head


def load_proof(data: bytes) -> InclusionProof | ConsistencyProof:
    """An inclusion or consistency proof document; InvalidStatementError when it is neither."""
    try:
        item = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidStatementError("the proof is not JSON") from None
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == "inclusion-proof":
        return InclusionProof.from_json(item)
    if kind == "consistency-proof":
        return ConsistencyProof.from_json(item)
    raise InvalidStatementError('not a proof ({"type":"inclusion-proof"|"consistency-proof",...})')


def proof_bytes(proof: InclusionProof | ConsistencyProof) -> bytes:
    """What `enclave audit prove` writes: the canonical JSON of the proof and a newline."""
    return canonical_bytes(proof.to_json()) + b"\n"
