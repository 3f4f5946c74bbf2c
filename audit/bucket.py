"""The audit log as it is synced into the customer's own bucket, and the check of the whole synced history.

Under the sync target's prefix (e.g. `tenants/acme/enclave-audit/`), append-only object names:

    segments/<first seq:020d>-<last seq:020d>.jsonl   records first..last, as canonical JSON lines:
        {"type":"segment","version":1,"tenant":...,"first_seq":...,"last_seq":...}
        {"type":"anchor",...}                          only for a history starting right after pruned records
        {"type":"tree-start","size":first-1,"subtrees":[...]}   when first > 1
        {"body":{...},"hash":"...","type":"record"}    one per record (the export's record line)
    heads/<size:020d>.json                             one per sync, written after its segments:
        {"type":"synced-head","version":1,"tenant":...,
         "tree_head":{...},                            the tree head signed when record `size` was committed
         "previous":{"size":...,"root":...} | null,    the previous synced head
         "consistency":[...],                          RFC 9162 proof from the previous head to this one
         "segments":["segments/...", ...]}             the records since the previous head
    keys/<position:04d>-<key id>.json                  the signing-key history entries (audit.keys)

`verify_bucket` checks the whole history, each head against the one before: signed by a trusted key (for its
time), consistent with the previous head, its segments complete and contiguous, their records intact and
linked, and their tree equal to the signed one. A segment no head names (a sync that broke off before its
head) is reported as a note, not taken as part of the history.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from audit.canonical import JsonValue, canonical_bytes
from audit.checkpoints import Checkpoint, InvalidCheckpointError
from audit.events import format_time, genesis_hash
from audit.keys import KeyEntry, KeyHistoryError, TrustedKeys, signature_problem
from audit.merkle import Frontier, InvalidProofError, leaf_hash, verify_consistency
from audit.treeproofs import InvalidStatementError, TreeStart, hex_hashes, raw_hashes

SEGMENTS = "segments/"
HEADS = "heads/"
KEYS = "keys/"
SEGMENT_TYPE = "segment"
HEAD_TYPE = "synced-head"
_HEAD_NAME = re.compile(r"^heads/(\d{20})\.json$")
_SEGMENT_NAME = re.compile(r"^segments/(\d{20})-(\d{20})\.jsonl$")
_KEY_NAME = re.compile(r"^keys/(\d{4})-([0-9a-f]{16})\.json$")
_HEAD_FIELDS = ("type", "version", "tenant", "tree_head", "previous", "consistency", "segments")
_SEGMENT_FIELDS = ("type", "version", "tenant", "first_seq", "last_seq")


class Listed(Protocol):
    @property
    def key(self) -> str: ...


class ObjectReader(Protocol):
    """Read access to the objects under the audit prefix (keys relative to it): a directory copy of the bucket
    (DirectoryReader), or a storage grant's objects (storage_connector.objects.GrantObjects, through
    `under(prefix)`)."""

    def get(self, key: str) -> bytes | None: ...

    def list(self, prefix: str = "") -> Sequence[Listed]: ...


class ObjectStore(ObjectReader, Protocol):
    """An ObjectReader that can also write, append-only (GrantObjects.put: False when the same bytes were
    already there, an error when other bytes are)."""

    def put(self, key: str, data: bytes, content_type: str = ...) -> bool: ...


@dataclass(frozen=True)
class _Found:
    key: str
    size: int


class DirectoryReader:
    """A local copy of the bucket's audit prefix (what `aws s3 sync`, `gcloud storage rsync` or `azcopy sync`
    download)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def list(self, prefix: str = "") -> list[_Found]:
        found = [
            _Found(path.relative_to(self.root).as_posix(), path.stat().st_size)
            for path in self.root.rglob("*")
            if path.is_file()
        ]
        return sorted((item for item in found if item.key.startswith(prefix)), key=lambda item: item.key)


class Prefixed:
    """The objects of a store under `prefix` (keys relative to it): the sync target's prefix in a grant."""

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def get(self, key: str) -> bytes | None:
        return self.store.get(self.prefix + key)

    def list(self, prefix: str = "") -> list[_Found]:
        return [
            _Found(item.key.removeprefix(self.prefix), getattr(item, "size", 0))
            for item in self.store.list(self.prefix + prefix)
        ]

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        return self.store.put(self.prefix + key, data, content_type)


def head_key(size: int) -> str:
    return f"{HEADS}{size:020d}.json"


def segment_key(first: int, last: int) -> str:
    return f"{SEGMENTS}{first:020d}-{last:020d}.jsonl"


def key_entry_key(entry: KeyEntry) -> str:
    return f"{KEYS}{entry.position:04d}-{entry.key_id}.json"


@dataclass(frozen=True)
class SyncedHead:
    tenant: str
    tree_head: Checkpoint
    previous: tuple[int, str] | None  # (size, root) of the previous synced head
    consistency: tuple[str, ...]
    segments: tuple[str, ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": HEAD_TYPE,
            "version": 1,
            "tenant": self.tenant,
            "tree_head": self.tree_head.to_json(),
            "previous": None if self.previous is None else {"size": self.previous[0], "root": self.previous[1]},
            "consistency": list(self.consistency),
            "segments": list(self.segments),
        }

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.to_json()) + b"\n"

    @classmethod
    def from_bytes(cls, raw: bytes) -> SyncedHead:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidStatementError("the head is not JSON") from None
        if not isinstance(data, dict) or set(data) != set(_HEAD_FIELDS) or data["type"] != HEAD_TYPE:
            raise InvalidStatementError(f"a synced head has exactly the fields {', '.join(_HEAD_FIELDS)}")
        if data["version"] != 1 or not isinstance(data["tenant"], str):
            raise InvalidStatementError("unsupported synced head version, or no tenant")
        try:
            tree_head = Checkpoint.from_json(data["tree_head"])
        except InvalidCheckpointError as exc:
            raise InvalidStatementError(f"tree_head: {exc}") from None
        previous = data["previous"]
        if previous is not None:
            if (
                not isinstance(previous, dict)
                or set(previous) != {"size", "root"}
                or not isinstance(previous["size"], int)
                or isinstance(previous["size"], bool)
            ):
                raise InvalidStatementError('previous must be null or {"size": N, "root": "..."}')
            hex_hashes([previous["root"]], "previous.root")
            previous = (previous["size"], previous["root"])
        segments = data["segments"]
        if not isinstance(segments, list) or not all(isinstance(name, str) for name in segments):
            raise InvalidStatementError("segments must be a list of object names")
        return cls(data["tenant"], tree_head, previous, hex_hashes(data["consistency"], "consistency"), tuple(segments))


def segment_header(tenant: str, first: int, last: int) -> bytes:
    header = {"type": SEGMENT_TYPE, "version": 1, "tenant": tenant, "first_seq": first, "last_seq": last}
    return canonical_bytes(header) + b"\n"


# -- verifying a bucket ---------------------------------------------------------------------------------------


@dataclass
class BucketReport:
    tenant: str | None = None
    heads: int = 0
    segments: int = 0
    records: int = 0
    first_seq: int | None = None  # the first record the synced history holds
    latest: Checkpoint | None = None  # the newest synced head that verified
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)
    chained: bool = False  # a head was accepted into the chain

    @property
    def ok(self) -> bool:
        return not self.problems and self.heads > 0

    def summary(self) -> str:
        lines = [
            f"tenant {self.tenant or '?'}: {self.heads} synced heads, {self.segments} segments, {self.records} records"
        ]
        if self.latest is not None:
            lines.append(
                f"history: records {self.first_seq}..{self.latest.seq}; latest synced head: size "
                f"{self.latest.seq}, root {self.latest.root}, signed {format_time(self.latest.time)} by key "
                f"{self.latest.key_id}"
            )
        if self.heads == 0 and not self.problems:
            lines.append("no synced head: nothing has been synced to this bucket")
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"FAILED: {problem}" for problem in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "ok": self.ok,
            "tenant": self.tenant,
            "heads": self.heads,
            "segments": self.segments,
            "records": self.records,
            "first_seq": self.first_seq,
            "latest": None if self.latest is None else self.latest.to_json(),
            "key_ids": list(self.key_ids),
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def bucket_keys(reader: ObjectReader, trusted: Sequence[Any]) -> TrustedKeys:
    """The keys to check a bucket with: the trusted public keys, and the key history the bucket holds (its
    entries must chain to a trusted key). KeyHistoryError when the history does not."""
    entries = []
    for item in reader.list(KEYS):
        match = _KEY_NAME.match(item.key)
        raw = reader.get(item.key) if match else None
        if raw is None:
            continue
        try:
            entries.append(KeyEntry.from_json(orjson.loads(raw)))
        except (orjson.JSONDecodeError, KeyHistoryError) as exc:
            raise KeyHistoryError(f"{item.key}: {exc}") from None
    entries.sort(key=lambda entry: entry.position)
    return TrustedKeys(trusted, entries if entries else None)


def verify_bucket(reader: ObjectReader, keys: TrustedKeys) -> BucketReport:
    """Check every synced head and segment under the audit prefix (see the module docstring)."""
    report = BucketReport()
    heads = sorted(
        (int(match.group(1)), item.key) for item in reader.list(HEADS) if (match := _HEAD_NAME.match(item.key))
    )
    named: set[str] = set()
    previous: Checkpoint | None = None
    for size, key in heads:
        raw = reader.get(key)
        if raw is None:
            report.problems.append(f"{key} was listed but cannot be read")
            continue
        try:
            head = SyncedHead.from_bytes(raw)
        except InvalidStatementError as exc:
            report.problems.append(f"{key}: {exc}")
            previous = None
            continue
        named.update(head.segments)
        chained, complete = _check_head(reader, keys, report, key, size, head, previous, first=not report.chained)
        report.chained = report.chained or chained
        previous = head.tree_head if chained else None  # a signed head still anchors the next, whatever its segments
        if chained and complete:
            report.heads += 1
            report.latest = head.tree_head
    for item in reader.list(SEGMENTS):
        if item.key not in named:
            report.notes.append(f"{item.key} is named by no synced head (a sync that broke off); it was not checked")
    return report


def _check_head(
    reader: ObjectReader,
    keys: TrustedKeys,
    report: BucketReport,
    key: str,
    size: int,
    head: SyncedHead,
    previous: Checkpoint | None,
    *,
    first: bool,
) -> tuple[bool, bool]:
    """(whether the head is signed and chained to the one before, whether its segments are intact too)."""
    tree_head = head.tree_head
    where = f"{key}"
    if tree_head.seq != size or tree_head.kind != "checkpoint":
        report.problems.append(f"{where}: its tree head covers {tree_head.seq} records, its name says {size}")
        return False, False
    if report.tenant is None:
        report.tenant = head.tenant
    if head.tenant != report.tenant or tree_head.tenant != report.tenant:
        report.problems.append(f"{where}: a head of tenant {tree_head.tenant} among {report.tenant}'s")
        return False, False
    if not _signed(keys, report, tree_head, where):
        return False, False
    if previous is None and not first:
        report.problems.append(f"{where}: the head before it did not verify, so this one cannot be chained to it")
        return False, False
    expected = None if previous is None else (previous.seq, previous.root)
    if head.previous != expected:
        said = "none" if head.previous is None else f"size {head.previous[0]}"
        held = "none (it is the first)" if expected is None else f"size {expected[0]}"
        report.problems.append(
            f"{where}: it names {said} as the previous synced head, the bucket's is {held}: heads were deleted or "
            "rewritten"
        )
        return False, False
    if head.previous is not None:
        try:
            verify_consistency(
                head.previous[0],
                size,
                bytes.fromhex(head.previous[1]),
                bytes.fromhex(tree_head.root),
                raw_hashes(head.consistency),
            )
        except InvalidProofError as exc:
            report.problems.append(f"{where}: it does not extend the previous synced head: {exc}")
            return False, False
    return True, _check_segments(reader, keys, report, where, head, previous)


def _signed(keys: TrustedKeys, report: BucketReport, head: Checkpoint, where: str) -> bool:
    problem = signature_problem(keys, head, f"the tree head in {where}")
    if problem is not None:
        report.problems.append(problem)
        return False
    if head.key_id not in report.key_ids:
        report.key_ids.append(head.key_id)
    return True


@dataclass
class _Chain:
    """Where the records read so far stand: the next seq, the last hash, the tree."""

    next_seq: int
    last_hash: str
    tree: Frontier | None
    skipped: int = 0  # records before the first held one (pruned before the history starts)


def _check_segments(
    reader: ObjectReader,
    keys: TrustedKeys,
    report: BucketReport,
    where: str,
    head: SyncedHead,
    previous: Checkpoint | None,
) -> bool:
    if previous is None:
        chain = _Chain(1, genesis_hash(head.tenant), Frontier())
    else:
        chain = _Chain(previous.seq + 1, previous.head_hash, None)
    for name in head.segments:
        match = _SEGMENT_NAME.match(name)
        if match is None:
            report.problems.append(f"{where}: {name!r} is not a segment name")
            return False
        first, last = int(match.group(1)), int(match.group(2))
        if first != chain.next_seq and not (previous is None and chain.next_seq == 1 and first > 1):
            report.problems.append(f"{where}: {name} starts at {first}, the records before end at {chain.next_seq - 1}")
            return False
        raw = reader.get(name)
        if raw is None:
            report.problems.append(f"{where}: {name} is missing from the bucket")
            return False
        problem = _check_segment(keys, report, raw, head.tenant, first, last, chain, previous)
        if problem is not None:
            report.problems.append(f"{name}: {problem}")
            return False
    tree_head = head.tree_head
    if chain.next_seq - 1 != tree_head.seq:
        report.problems.append(f"{where}: its segments end at {chain.next_seq - 1}, its tree head at {tree_head.seq}")
        return False
    if chain.tree is None or chain.tree.root().hex() != tree_head.root or chain.last_hash != tree_head.head_hash:
        report.problems.append(
            f"{where}: the records of its segments do not make the tree its signed head signs: they were altered"
        )
        return False
    report.segments += len(head.segments)
    report.records += tree_head.seq - (0 if previous is None else previous.seq) - (chain.skipped)
    return True


def _check_segment(
    keys: TrustedKeys,
    report: BucketReport,
    raw: bytes,
    tenant: str,
    first: int,
    last: int,
    chain: _Chain,
    previous: Checkpoint | None,
) -> str | None:
    lines = raw.split(b"\n")
    if lines[-1] != b"":
        return "the segment does not end with a newline: it was cut"
    lines.pop()
    try:
        items = [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        return "a line is not JSON"
    if any(canonical_bytes(item) != line for item, line in zip(items, lines, strict=True)):
        return "a line is not in canonical form"
    if not items or items[0] != orjson.loads(segment_header(tenant, first, last)):
        return "its first line is not the segment header its name and tenant call for"
    position = 1
    if first > 1:
        anchor = None
        if len(items) > position and isinstance(items[position], dict) and items[position].get("type") == "anchor":
            anchor, problem = _anchor(keys, report, items[position], tenant, first)
            if problem is not None:
                return problem
            position += 1
        try:
            start = TreeStart.from_json(items[position] if position < len(items) else None)
        except InvalidStatementError as exc:
            return f"no tree-start line ({exc})"
        position += 1
        if start.size != first - 1:
            return f"its tree-start gives {start.size} records, the segment starts at {first}"
        if previous is None and chain.next_seq == 1:  # the synced history starts after pruned records
            if anchor is None or anchor.root != start.root():
                return "the history starts after seq 1 without a signed prune anchor for the records before"
            chain.last_hash, chain.tree = anchor.head_hash, start.frontier()
            chain.skipped = first - 1
            report.first_seq = first
        held = chain.tree.root().hex() if chain.tree is not None else (previous.root if previous else None)
        start_differs = start.root() != held  # reported after the records: a broken link says more
        if chain.tree is None:
            chain.tree = start.frontier()
    else:
        start_differs = False
        if report.first_seq is None:
            report.first_seq = 1
    records = items[position:]
    if len(records) != last - first + 1:
        return f"it holds {len(records)} records, its name says {last - first + 1}"
    tree = chain.tree
    assert tree is not None
    for seq, item in enumerate(records, start=first):
        body = item.get("body") if isinstance(item, dict) else None
        if not isinstance(body, dict) or item.get("type") != "record" or set(item) != {"body", "hash", "type"}:
            return f"line {seq - first + position + 1} is not a record"
        digest = hashlib.sha256(canonical_bytes(body)).digest()
        if digest.hex() != item["hash"]:
            return f"record {seq}'s content does not match its hash: it was altered"
        if body.get("seq") != seq or body.get("tenant") != tenant:
            return f"the record at seq {seq} says seq {body.get('seq')} of tenant {body.get('tenant')}"
        if body.get("prev") != chain.last_hash:
            return f"record {seq} does not link to the record before it"
        chain.last_hash = item["hash"]
        tree.append(leaf_hash(digest))
    if start_differs:
        return "its tree-start does not make the root of the records before it: they, or it, were altered"
    chain.next_seq = last + 1
    return None


def _anchor(
    keys: TrustedKeys, report: BucketReport, item: Any, tenant: str, first: int
) -> tuple[Checkpoint | None, str | None]:
    try:
        anchor = Checkpoint.from_json(item)
    except InvalidCheckpointError as exc:
        return None, f"bad anchor line: {exc}"
    if anchor.kind != "anchor" or anchor.tenant != tenant or anchor.seq != first - 1:
        return None, "the anchor line is not the prune anchor the segment starts after"
    problem = signature_problem(keys, anchor, "the prune anchor")
    if problem is not None:
        return None, problem
    if anchor.key_id not in report.key_ids:
        report.key_ids.append(anchor.key_id)
    return anchor, None


def latest_head(reader: ObjectReader) -> tuple[str, SyncedHead] | None:
    """The synced head with the largest size, by name (not yet checked), or None when there is none."""
    heads = sorted(
        (int(match.group(1)), item.key) for item in reader.list(HEADS) if (match := _HEAD_NAME.match(item.key))
    )
    if not heads:
        return None
    key = heads[-1][1]
    raw = reader.get(key)
    if raw is None:
        raise InvalidStatementError(f"{key} was listed but cannot be read")
    return key, SyncedHead.from_bytes(raw)
