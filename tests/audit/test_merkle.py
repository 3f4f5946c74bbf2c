"""RFC 9162 Merkle trees: the published Certificate Transparency vectors (vendored under vectors/), a naive
transcription of the RFC's recursive definitions on random trees, and forged proofs of every kind."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    InvalidProofError,
    LeafList,
    Node,
    consistency_proof,
    decompose,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    root,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
CT = json.loads((VECTORS / "ct_vectors.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(entry)) for entry in CT["leaves"]]
ROOTS = [bytes.fromhex(value) for value in CT["roots"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# -- the RFC's definitions, transcribed literally (the reference the fast code must match) --------------


def mth(entries: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf hashes."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return entries[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:])).digest()


def path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH."""
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF."""
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, entries[:k], b), mth(entries[k:])]
    return [*subproof(m - k, entries[k:], False), mth(entries[:k])]


def random_leaves(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(count)]


# -- the published vectors -------------------------------------------------------------------------------


def test_roots_of_the_reference_tree() -> None:
    for size in range(1, 9):
        assert root(LeafList(LEAVES), size) == ROOTS[size - 1]
        frontier = Frontier()
        frontier.extend(LEAVES[:size])
        assert frontier.root() == ROOTS[size - 1]
    assert (
        root(LeafList(LEAVES), 0)
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )


@pytest.mark.parametrize("vector", CT["inclusion"], ids=lambda v: f"leaf{v['leaf']}-size{v['size']}")
def test_published_inclusion_proofs(vector: dict[str, object]) -> None:
    index, size = int(vector["leaf"]) - 1, int(vector["size"])  # type: ignore[call-overload]
    published = [bytes.fromhex(h) for h in vector["proof"]]  # type: ignore[attr-defined]
    assert inclusion_proof(LeafList(LEAVES), index, size) == published
    verify_inclusion(index, size, LEAVES[index], published, ROOTS[size - 1])
    for description, forged in forged_inclusions(index, size, LEAVES[index], published, ROOTS[size - 1]):
        with pytest.raises(InvalidProofError):
            verify_inclusion(*forged)
            pytest.fail(f"accepted a forged inclusion proof: {description}")


@pytest.mark.parametrize("vector", CT["consistency"], ids=lambda v: f"{v['size1']}-{v['size2']}")
def test_published_consistency_proofs(vector: dict[str, object]) -> None:
    old, new = int(vector["size1"]), int(vector["size2"])  # type: ignore[call-overload]
    published = [bytes.fromhex(h) for h in vector["proof"]]  # type: ignore[attr-defined]
    assert consistency_proof(LeafList(LEAVES), old, new) == published
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], published)
    if old != new:
        for description, forged in forged_consistencies(old, new, ROOTS[old - 1], ROOTS[new - 1], published):
            with pytest.raises(InvalidProofError):
                verify_consistency(*forged)
                pytest.fail(f"accepted a forged consistency proof: {description}")


def _testdata(kind: str) -> Iterator[tuple[str, dict[str, object]]]:
    for file in sorted((VECTORS / "testdata" / kind).glob("*/*.json")):
        yield f"{file.parent.name}/{file.stem}", json.loads(file.read_text())


def _b64(value: object) -> bytes:
    return base64.b64decode(str(value))


@pytest.mark.parametrize(("name", "case"), list(_testdata("inclusion")), ids=lambda x: x if isinstance(x, str) else "")
def test_transparency_dev_inclusion_testdata(name: str, case: dict[str, object]) -> None:
    proof = [_b64(h) for h in case["proof"] or []]  # type: ignore[attr-defined]
    args = (int(case["leafIdx"]), int(case["treeSize"]), _b64(case["leafHash"]), proof, _b64(case["root"]))  # type: ignore[call-overload]
    if case["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize(
    ("name", "case"), list(_testdata("consistency")), ids=lambda x: x if isinstance(x, str) else ""
)
def test_transparency_dev_consistency_testdata(name: str, case: dict[str, object]) -> None:
    proof = [_b64(h) for h in case["proof"] or []]  # type: ignore[attr-defined]
    args = (int(case["size1"]), int(case["size2"]), _b64(case["root1"]), _b64(case["root2"]), proof)  # type: ignore[call-overload]
    if case["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# -- forged proofs ---------------------------------------------------------------------------------------

InclusionArgs = tuple[int, int, bytes, list[bytes], bytes]
ConsistencyArgs = tuple[int, int, bytes, bytes, list[bytes]]


def flips(value: bytes) -> Iterator[bytes]:
    """`value` with each of its bits flipped in turn."""
    for bit in range(len(value) * 8):
        changed = bytearray(value)
        changed[bit // 8] ^= 1 << (bit % 8)
        yield bytes(changed)


def forged_inclusions(
    index: int, size: int, leaf: bytes, proof: list[bytes], tree_root: bytes
) -> Iterator[tuple[str, InclusionArgs]]:
    """The corruptions of transparency-dev/merkle's verify_test.go, and every single-bit flip. (Not "size + 1":
    a path can have the same shape in a tree one leaf larger; the signed tree head binds size to root.)"""
    yield "index - 1", (index - 1, size, leaf, proof, tree_root)
    yield "index + 1", (index + 1, size, leaf, proof, tree_root)
    yield "index ^ 2", (index ^ 2, size, leaf, proof, tree_root)
    yield "size * 2", (index, size * 2, leaf, proof, tree_root)
    yield "size / 2", (index, size // 2, leaf, proof, tree_root)
    yield "wrong leaf", (index, size, leaf_hash(b"WrongLeaf"), proof, tree_root)
    yield "empty root", (index, size, leaf, proof, EMPTY_ROOT)
    yield "random root", (index, size, leaf, proof, SOME_HASH)
    yield "trailing garbage", (index, size, leaf, [*proof, b""], tree_root)
    yield "trailing root", (index, size, leaf, [*proof, tree_root], tree_root)
    yield "preceding garbage", (index, size, leaf, [b"", *proof], tree_root)
    yield "preceding root", (index, size, leaf, [tree_root, *proof], tree_root)
    if proof:
        yield "removed component", (index, size, leaf, proof[:-1], tree_root)
        yield "removed first component", (index, size, leaf, proof[1:], tree_root)
        yield "truncated element", (index, size, leaf, [proof[0][:31], *proof[1:]], tree_root)
    if len(proof) > 1:
        yield "inserted component", (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], tree_root)
        yield "swapped components", (index, size, leaf, [proof[1], proof[0], *proof[2:]], tree_root)
    for position, element in enumerate(proof):
        for flipped in flips(element):
            yield (
                f"bit flip in proof[{position}]",
                (index, size, leaf, [*proof[:position], flipped, *proof[position + 1 :]], tree_root),
            )
    for flipped in flips(leaf):
        yield "bit flip in the leaf", (index, size, flipped, proof, tree_root)
    for flipped in flips(tree_root):
        yield "bit flip in the root", (index, size, leaf, proof, flipped)


def forged_consistencies(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> Iterator[tuple[str, ConsistencyArgs]]:
    yield "old - 1", (old - 1, new, old_root, new_root, proof)
    yield "old + 1", (old + 1, new, old_root, new_root, proof)
    yield "old ^ 2", (old ^ 2, new, old_root, new_root, proof)
    yield "new * 2", (old, new * 2, old_root, new_root, proof)
    yield "new / 2", (old, new // 2, old_root, new_root, proof)
    yield "wrong old root", (old, new, SOME_HASH, new_root, proof)
    yield "wrong new root", (old, new, old_root, SOME_HASH, proof)
    yield "swapped roots", (old, new, new_root, old_root, proof)
    yield "empty proof", (old, new, old_root, new_root, [])
    yield "trailing garbage", (old, new, old_root, new_root, [*proof, b""])
    yield "trailing old root", (old, new, old_root, new_root, [*proof, old_root])
    yield "trailing new root", (old, new, old_root, new_root, [*proof, new_root])
    yield "preceding garbage", (old, new, old_root, new_root, [b"", *proof])
    yield "preceding old root", (old, new, old_root, new_root, [old_root, *proof])
    yield "preceding new root", (old, new, old_root, new_root, [new_root, *proof])
    yield "preceding proof[0]", (old, new, old_root, new_root, [proof[0], *proof])
    yield "truncated proof", (old, new, old_root, new_root, proof[:-1])
    yield "inserted component", (old, new, old_root, new_root, [proof[0], SOME_HASH, *proof[1:]])
    for position, element in enumerate(proof):
        for flipped in flips(element):
            yield (
                f"bit flip in proof[{position}]",
                (old, new, old_root, new_root, [*proof[:position], flipped, *proof[position + 1 :]]),
            )
    for flipped in flips(old_root):
        yield "bit flip in the old root", (old, new, flipped, new_root, proof)
    for flipped in flips(new_root):
        yield "bit flip in the new root", (old, new, old_root, flipped, proof)


def _all_rejected(check: Callable[..., None], cases: Iterator[tuple[str, tuple[object, ...]]]) -> list[str]:
    accepted = []
    for description, args in cases:
        try:
            check(*args)
        except InvalidProofError:
            continue
        accepted.append(description)
    return accepted


# -- random trees against the literal definitions ------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_random_trees_match_the_rfc_definitions(seed: int) -> None:
    leaves = random_leaves(70, seed)
    source = LeafList(leaves)
    frontier = Frontier()
    for size in range(0, len(leaves) + 1):
        assert root(source, size) == mth(leaves[:size])
        assert frontier.root() == mth(leaves[:size])
        if size < len(leaves):
            frontier.append(leaves[size])
    for size in range(1, len(leaves) + 1):
        tree_root = mth(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(source, index, size)
            assert proof == path(index, leaves[:size])
            assert root_from_inclusion(index, size, leaves[index], proof) == tree_root
        for old in range(1, size + 1):
            proof = consistency_proof(source, old, size)
            assert proof == (subproof(old, leaves[:size], True) if old < size else [])
            verify_consistency(old, size, mth(leaves[:old]), tree_root, proof)


def test_forged_proofs_on_larger_trees_are_all_rejected() -> None:
    leaves = random_leaves(300, 7)
    source = LeafList(leaves)
    for index, size in ((0, 300), (137, 300), (255, 256), (256, 257), (299, 300), (64, 129)):
        proof = inclusion_proof(source, index, size)
        assert (
            _all_rejected(verify_inclusion, forged_inclusions(index, size, leaves[index], proof, mth(leaves[:size])))
            == []
        )
    for old, new in ((1, 300), (128, 300), (129, 256), (255, 256), (200, 201), (37, 64)):
        proof = consistency_proof(source, old, new)
        forged = forged_consistencies(old, new, mth(leaves[:old]), mth(leaves[:new]), proof)
        assert _all_rejected(verify_consistency, forged) == []


def test_degenerate_sizes() -> None:
    leaves = random_leaves(4, 1)
    with pytest.raises(InvalidProofError):
        verify_inclusion(0, 0, leaves[0], [], EMPTY_ROOT)
    verify_inclusion(0, 1, leaves[0], [], leaves[0])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 4, EMPTY_ROOT, mth(leaves), [])
    with pytest.raises(InvalidProofError):
        verify_consistency(0, 4, SOME_HASH, mth(leaves), [])
    with pytest.raises(InvalidProofError):
        verify_consistency(2, 2, mth(leaves[:2]), SOME_HASH, [])
    with pytest.raises(InvalidProofError):
        verify_consistency(2, 2, mth(leaves[:2]), mth(leaves[:2]), [SOME_HASH])
    with pytest.raises(InvalidProofError):
        verify_consistency(3, 2, mth(leaves[:3]), mth(leaves[:2]), [SOME_HASH])
    with pytest.raises(ValueError, match="outside a tree of size 4"):
        inclusion_proof(LeafList(leaves), 4, 4)


def test_frontier_keeps_the_complete_subtrees_it_forms() -> None:
    leaves = random_leaves(100, 3)
    frontier = Frontier()
    kept = dict(frontier.extend(leaves, keep_level=3))
    source = LeafList(leaves)
    expected = {Node(level, index) for level in range(3, 7) for index in range(100 >> level)}
    assert set(kept) == expected
    assert all(kept[node] == source.subtree(node) for node in expected)
    restored = Frontier.from_bytes(frontier.size, frontier.to_bytes())
    assert restored.root() == mth(leaves) and restored.nodes() == decompose(0, 100)
    with pytest.raises(ValueError, match="packs 3 hashes"):
        Frontier.from_bytes(100, frontier.to_bytes()[:-1])


def test_range_hash_of_a_right_edge() -> None:
    leaves = random_leaves(13, 2)
    assert range_hash(LeafList(leaves), 8, 13) == mth(leaves[8:13])
    assert node_hash(mth(leaves[:8]), mth(leaves[8:13])) == mth(leaves)


def test_bulk_extension_builds_the_same_tree_as_one_leaf_at_a_time() -> None:
    """Frontier.extend_digests (the verifier's bulk path) against Frontier.append, from every kind of start."""
    rng = random.Random(5)
    for _ in range(200):
        start, count = rng.randint(0, 600), rng.randint(0, 700)
        digests = [rng.randbytes(32) for _ in range(start + count)]
        one_by_one = Frontier()
        one_by_one.extend(leaf_hash(digest) for digest in digests)
        bulk = Frontier()
        bulk.extend(leaf_hash(digest) for digest in digests[:start])
        bulk.extend_digests(digests[start:])
        assert (bulk.size, bulk.hashes) == (one_by_one.size, one_by_one.hashes)
