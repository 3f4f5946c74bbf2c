"""Statements about a tenant's Merkle tree that travel in exports, in the customer's bucket and in answers to
`audit prove`: where a partial export's tree starts, how a range ending before a signed head is bound to it,
and inclusion and consistency proofs. All hashes are lowercase hex; every object is canonical JSON.

None of them is signed itself: each is checked against a signed tree head (a Checkpoint) by recomputing an
RFC 9162 root, so a forged one is refused however it was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from audit.canonical import JsonValue, canonical_bytes, field_problem
from audit.checkpoints import Checkpoint, InvalidCheckpointError
from audit.merkle import Frontier, fold

_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_PATH = 64  # a tree of 2^63 leaves needs at most 63 hashes
TREE_START = "tree-start"
CONTINUATION = "continuation"
INCLUSION = "inclusion-proof"
CONSISTENCY = "consistency-proof"


class InvalidStatementError(ValueError):
    """A tree statement or proof document that is malformed; the message names the field."""


def hex_hashes(value: object, what: str, limit: int = MAX_PATH) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(h, str) and _HEX.match(h) for h in value)
    ):
        raise InvalidStatementError(f"{what} must be a list of at most {limit} hashes (64 lowercase hex digits)")
    return tuple(value)


def raw_hashes(values: tuple[str, ...]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidStatementError(f"{name} must be a non-negative integer")
    return value


def _object(data: Any, kind: str, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("type") != kind:
        raise InvalidStatementError(f'not a {kind} ({{"type":"{kind}",...}})')
    problem = field_problem(data, fields, kind)
    if problem is not None:
        raise InvalidStatementError(problem)
    return data


def _tree_head(data: Any, what: str, *, anchor_ok: bool = False) -> Checkpoint:
    """A signed tree head; with `anchor_ok`, a prune anchor too (it signs the root of the pruned prefix)."""
    try:
        head = Checkpoint.from_json(data)
    except InvalidCheckpointError as exc:
        raise InvalidStatementError(f"{what}: {exc}") from None
    if head.kind != "checkpoint" and not anchor_ok:
        raise InvalidStatementError(f"{what} must be a signed tree head (type checkpoint)")
    return head


@dataclass(frozen=True, slots=True)
class TreeStart:
    """The complete subtrees that make up records 1..size (audit.merkle.decompose(0, size)): with them, the
    records after `size` continue the tree. An export or a bucket segment that starts after seq 1 carries one;
    the signed tree head at its end (or the prune anchor before it) proves them."""

    size: int
    subtrees: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.size < 1 or len(self.subtrees) != self.size.bit_count():
            raise InvalidStatementError(
                f"a tree of {self.size} records is made of {self.size.bit_count()} complete subtrees, "
                f"not {len(self.subtrees)}"
            )

    def frontier(self) -> Frontier:
        return Frontier(self.size, raw_hashes(self.subtrees))

    def root(self) -> str:
        return fold(raw_hashes(self.subtrees)).hex()

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": TREE_START, "size": self.size, "subtrees": list(self.subtrees)}

    @classmethod
    def from_json(cls, data: Any) -> TreeStart:
        item = _object(data, TREE_START, ("type", "size", "subtrees"))
        return cls(_count(item, "size"), hex_hashes(item["subtrees"], "subtrees"))


@dataclass(frozen=True, slots=True)
class Continuation:
    """Binds records 1..size to a signed tree head over more records: an RFC 9162 consistency proof from the
    tree of `size` records to the tree `tree_head` signs. Ends an export whose range stops before a signed head
    (an `until` export, or one cut between two commits)."""

    size: int
    tree_head: Checkpoint
    consistency: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.size < self.tree_head.seq:
            raise InvalidStatementError("a continuation binds a smaller tree to a later signed tree head")

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": CONTINUATION,
            "size": self.size,
            "tree_head": self.tree_head.to_json(),
            "consistency": list(self.consistency),
        }

    @classmethod
    def from_json(cls, data: Any) -> Continuation:
        item = _object(data, CONTINUATION, ("type", "size", "tree_head", "consistency"))
        return cls(
            _count(item, "size"),
            _tree_head(item["tree_head"], "tree_head"),
            hex_hashes(item["consistency"], "consistency"),
        )


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Record `seq` of `tenant` (its canonical body and hash) is leaf seq-1 of the tree `tree_head` signs."""

    tenant: str
    seq: int
    body: bytes  # the record's canonical body, as stored and exported
    record_hash: str
    tree_head: Checkpoint
    path: tuple[str, ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": INCLUSION,
            "version": 1,
            "tenant": self.tenant,
            "seq": self.seq,
            "record": {"body": orjson.loads(self.body), "hash": self.record_hash},
            "tree_head": self.tree_head.to_json(),
            "path": list(self.path),
        }

    @classmethod
    def from_json(cls, data: Any) -> InclusionProof:
        item = _object(data, INCLUSION, ("type", "version", "tenant", "seq", "record", "tree_head", "path"))
        if item["version"] != 1:
            raise InvalidStatementError(f"unsupported inclusion proof version {item['version']!r}")
        record = item["record"]
        if not isinstance(record, dict) or set(record) != {"body", "hash"} or not isinstance(record["body"], dict):
            raise InvalidStatementError('record must be {"body": {...}, "hash": "..."}')
        if not isinstance(record["hash"], str) or not _HEX.match(record["hash"]):
            raise InvalidStatementError("record.hash must be 64 lowercase hex digits")
        if not isinstance(item["tenant"], str):
            raise InvalidStatementError("tenant must be a string")
        return cls(
            tenant=item["tenant"],
            seq=_count(item, "seq"),
            body=canonical_bytes(record["body"]),
            record_hash=record["hash"],
            tree_head=_tree_head(item["tree_head"], "tree_head"),
            path=hex_hashes(item["path"], "path"),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """The tree `tree_head` signs extends the tree of `old_size` records: an RFC 9162 consistency proof. The
    old root comes from the verifier's own copy (an earlier export's or the bucket's signed head); the proof
    states the root it was made from (`old_root`) and, when the log kept one, the signed head at that size."""

    tenant: str
    old_size: int
    old_root: str
    old_head: Checkpoint | None
    tree_head: Checkpoint
    path: tuple[str, ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": CONSISTENCY,
            "version": 1,
            "tenant": self.tenant,
            "old_size": self.old_size,
            "old_root": self.old_root,
            "old_tree_head": None if self.old_head is None else self.old_head.to_json(),
            "tree_head": self.tree_head.to_json(),
            "path": list(self.path),
        }

    @classmethod
    def from_json(cls, data: Any) -> ConsistencyProof:
        fields = ("type", "version", "tenant", "old_size", "old_root", "old_tree_head", "tree_head", "path")
        item = _object(data, CONSISTENCY, fields)
        if item["version"] != 1:
            raise InvalidStatementError(f"unsupported consistency proof version {item['version']!r}")
        if not isinstance(item["old_root"], str) or not _HEX.match(item["old_root"]):
            raise InvalidStatementError("old_root must be 64 lowercase hex digits")
        if not isinstance(item["tenant"], str):
            raise InvalidStatementError("tenant must be a string")
        old_head = item["old_tree_head"]
        return cls(
            tenant=item["tenant"],
            old_size=_count(item, "old_size"),
            old_root=item["old_root"],
            old_head=None if old_head is None else _tree_head(old_head, "old_tree_head", anchor_ok=True),
            tree_head=_tree_head(item["tree_head"], "tree_head"),
            path=hex_hashes(item["path"], "path"),
        )
