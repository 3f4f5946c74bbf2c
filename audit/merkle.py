"""Merkle trees over a tenant's records, exactly as RFC 9162 §2.1 defines them (the Certificate Transparency
v2 tree, unchanged from RFC 6962).

- Leaf hash: SHA-256(0x00 || d(i)); interior node: SHA-256(0x01 || left || right); the empty tree's hash is
  SHA-256 of nothing. MTH(D[n]) splits at k, the largest power of two smaller than n (§2.1.1).
- Inclusion proofs are PATH(m, D[n]) (§2.1.3.1) and verified with the algorithm of §2.1.3.2; consistency
  proofs are PROOF(m, D[n]) (§2.1.4.1), verified with §2.1.4.2.

The entry d(i) of the record with sequence number seq = i + 1 is the record's 32-byte SHA-256 digest (the
hash that also links the chain), so a leaf commits to the record's canonical body.

Proof generation never walks the whole tree: every subtree RFC 9162 names is either a complete, aligned
subtree (2^level leaves starting at a multiple of 2^level) or the right edge of the tree, which splits into
complete ones. A `NodeSource` answers for complete subtrees (the store keeps the larger ones); `plan_*`
computes which subtrees a proof needs from the sizes alone, so a source can fetch them all at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


class InvalidProofError(ValueError):
    """A proof that does not verify; the message says which check failed."""


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE + left + right).digest()


def split_point(size: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two strictly smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


@dataclass(frozen=True, slots=True)
class Node:
    """A complete, aligned subtree: leaves [index * 2^level, (index + 1) * 2^level)."""

    level: int
    index: int

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


def decompose(start: int, end: int) -> list[Node]:
    """The complete subtrees MTH(D[start:end]) is built from, left to right. For every range RFC 9162's
    recursion produces, `start` is a multiple of a power of two at least as large as the range's first part,
    so the pieces are the binary digits of (end - start) from the largest down."""
    nodes: list[Node] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        if start & ((1 << level) - 1):  # never for ranges of RFC 9162 trees; kept total for safety
            level = (start & -start).bit_length() - 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees (left to right): folded from the right, as §2.1.1's split
    puts the largest complete subtree on the left."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


class NodeSource(Protocol):
    """Hashes of complete subtrees of one tree."""

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]: ...


def range_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range of RFC 9162's recursion (EMPTY_ROOT for an empty range)."""
    if start == end:
        return EMPTY_ROOT
    pieces = decompose(start, end)
    found = source.nodes(pieces)
    return fold([found[node] for node in pieces])


def root(source: NodeSource, size: int) -> bytes:
    return range_hash(source, 0, size)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees of PATH(index, D[size]) (§2.1.3.1), leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The subtrees of PROOF(old, D[new]) (§2.1.4.1), in proof order; empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new, old, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _hashes(source: NodeSource, ranges: list[tuple[int, int]]) -> list[bytes]:
    pieces = {start_end: decompose(*start_end) for start_end in ranges}
    found = source.nodes(node for nodes in pieces.values() for node in nodes)
    return [fold([found[node] for node in pieces[start_end]]) for start_end in ranges]


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    return _hashes(source, inclusion_ranges(index, size))


def consistency_proof(source: NodeSource, old: int, new: int) -> list[bytes]:
    return _hashes(source, consistency_ranges(old, new))


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} is not a {HASH_SIZE}-byte SHA-256 hash")


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that `path` proves `leaf` (a leaf hash) is at `index` under, by §2.1.3.2 steps 1-4."""
    if not 0 <= index < size:
        raise InvalidProofError(f"leaf index {index} is not below the tree size {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, r = index, size - 1, leaf
    for position, p in enumerate(path):
        _check_hash(p, f"proof element {position}")
        if sn == 0:
            raise InvalidProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProofError("the proof is shorter than the path to the root")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], expected_root: bytes) -> None:
    """Raise InvalidProofError unless `path` proves `leaf` is leaf `index` of the tree `expected_root`
    (§2.1.3.2, step 5)."""
    _check_hash(expected_root, "the root")
    if root_from_inclusion(index, size, leaf, path) != expected_root:
        raise InvalidProofError(f"the path does not lead from leaf {index} to the root of the tree of size {size}")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> None:
    """Raise InvalidProofError unless `path` proves the tree of size `new` (root `new_root`) extends the tree of
    size `old` (root `old_root`): §2.1.4.2 for 0 < old < new; the same tree (equal roots, empty proof) for
    old == new; and any tree extends the empty one (empty proof)."""
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    for position, p in enumerate(path):
        _check_hash(p, f"proof element {position}")
    if not 0 <= old <= new:
        raise InvalidProofError(f"a tree of size {new} cannot extend one of size {old}")
    if old in (0, new):
        if path:
            raise InvalidProofError("the proof must be empty for these sizes")
        if old == new and old_root != new_root:
            raise InvalidProofError(f"two different roots for the same size {old}")
        if old == 0 and old_root != EMPTY_ROOT:
            raise InvalidProofError("the old root is not the empty tree's")
        return
    if not path:  # step 1
        raise InvalidProofError("the proof is empty")
    hashes = list(path)
    if old & (old - 1) == 0:  # step 2: first is an exact power of two
        hashes.insert(0, old_root)
    fn, sn = old - 1, new - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = hashes[0]  # step 5
    for c in hashes[1:]:  # step 6
        if sn == 0:
            raise InvalidProofError("the proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 7
        raise InvalidProofError("the proof is shorter than the trees need")
    if fr != old_root:
        raise InvalidProofError(f"the proof does not lead to the old root (size {old})")
    if sr != new_root:
        raise InvalidProofError(f"the proof does not lead to the new root (size {new})")


class Frontier:
    """The tree's right edge: the hashes of the complete subtrees that make up D[0:size] (one per set bit of
    size, largest first). Appending a leaf merges equal subtrees like a binary counter, so the tree grows in
    O(1) amortised hashing per leaf and `root` needs no storage. Merges at or above `keep_level` are reported
    so a store can keep those subtrees for proofs."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} edge subtrees, not {len(hashes)}")
        for value in hashes:
            _check_hash(value, "an edge subtree")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        if len(packed) != HASH_SIZE * size.bit_count():
            raise ValueError(f"a tree of size {size} packs {size.bit_count()} hashes, not {len(packed)} bytes")
        return cls(size, [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def nodes(self) -> list[Node]:
        """The complete subtrees of the edge, largest first (the same ones `decompose(0, size)` names)."""
        return decompose(0, self.size)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def append(self, leaf: bytes, keep_level: int | None = None) -> list[tuple[Node, bytes]]:
        """Add one leaf hash; returns the complete subtrees formed at `keep_level` or above."""
        kept: list[tuple[Node, bytes]] = []
        hashes, value, size = self.hashes, leaf, self.size
        level = 0
        while size >> level & 1:
            value = node_hash(hashes.pop(), value)
            level += 1
            if keep_level is not None and level >= keep_level:
                kept.append((Node(level, size >> level), value))
        hashes.append(value)
        self.size = size + 1
        return kept

    def extend(self, leaves: Iterable[bytes], keep_level: int | None = None) -> list[tuple[Node, bytes]]:
        kept: list[tuple[Node, bytes]] = []
        for leaf in leaves:
            kept.extend(self.append(leaf, keep_level))
        return kept

    def extend_digests(self, digests: Sequence[bytes]) -> None:
        """`extend` with the leaf hashes of these entries, hashed in bulk: each complete aligned run of leaves
        is reduced level by level and then joined to the edge as one subtree, which gives the same tree with
        far fewer Python calls (the verifier's hot path). Keeps no subtrees."""
        sha256 = hashlib.sha256
        position, count = 0, len(digests)
        while position < count:
            size = self.size
            chunk = 1 << ((count - position).bit_length() - 1)
            if size:
                chunk = min(chunk, size & -size)  # a subtree must start at a multiple of its own size
            level = [sha256(_LEAF + digest).digest() for digest in digests[position : position + chunk]]
            while len(level) > 1:
                level = [sha256(_NODE + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
            value, rest = level[0], size >> (chunk.bit_length() - 1)
            while rest & 1:
                value = node_hash(self.hashes.pop(), value)
                rest >>= 1
            self.hashes.append(value)
            self.size = size + chunk
            position += chunk

    def root(self) -> bytes:
        return fold(self.hashes) if self.hashes else EMPTY_ROOT


class LeafList:
    """A NodeSource over leaf hashes held in memory (tests, and small ranges read from the store)."""

    def __init__(self, leaves: Sequence[bytes], offset: int = 0) -> None:
        self.leaves = leaves
        self.offset = offset

    def subtree(self, node: Node) -> bytes:
        start, end = node.start - self.offset, node.end - self.offset
        if start < 0 or end > len(self.leaves):
            raise KeyError(node)
        level = list(self.leaves[start:end])
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        return level[0]

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        return {node: self.subtree(node) for node in wanted}
