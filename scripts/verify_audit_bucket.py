#!/usr/bin/env python3
"""Check the Enclave audit log synced into your bucket, offline, without Enclave installed.

Needs Python 3.9+ and the `cryptography` package (pip install cryptography), nothing else. Download the audit
prefix with your cloud's own tool, then point this script at the directory:

    aws s3 sync s3://BUCKET/PREFIX/enclave-audit/ ./audit            # or: gcloud storage rsync -r ..., azcopy sync
    python3 verify_audit_bucket.py ./audit --public-key audit-public-key.pem [--json]

It checks every synced head, oldest first: its tree head is signed by a key you trust (and, when the bucket
holds a key history under keys/, by a key valid at the head's time), it extends the previous head (RFC 9162
consistency proof), its segments hold every record since the previous head, each record matches its hash and
links to the one before, and the records make exactly the Merkle tree the head signs. Exit status 0: the whole
history verified; 1: it did not (every problem is printed); 2: bad arguments.

This is an independent implementation of the checks `enclave audit verify-bucket` runs (the project's tests
run both on the same buckets, honest and tampered, and require the same verdict).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_DOMAIN = b"enclave-audit-checkpoint-v2\x00"
KEY_DOMAIN = b"enclave-audit-key-history-v1\x00"
HEAD_NAME = re.compile(r"^heads/(\d{20})\.json$")
SEGMENT_NAME = re.compile(r"^segments/(\d{20})-(\d{20})\.jsonl$")
CHECKPOINT_FIELDS = {"type", "tenant", "seq", "head_hash", "root", "time", "key_id", "pruned_count", "signature"}


class Failed(Exception):
    """One problem with the synced history."""


def canonical(value: object) -> bytes:
    """The canonical JSON every Enclave hash and signature covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)  # noqa: UP017 (the script runs on Python 3.9+)


# -- RFC 9162 Merkle trees -----------------------------------------------------------------------------------


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(edge: list[bytes]) -> bytes:
    """The root of a tree from its right edge (complete subtrees, largest first)."""
    if not edge:
        return hashlib.sha256(b"").digest()
    value = edge[-1]
    for left in reversed(edge[:-1]):
        value = node(left, value)
    return value


def tree_append(edge: list[bytes], size: int, leaf: bytes) -> int:
    """Add a leaf hash to the tree of `size` leaves whose edge is `edge`; returns the new size."""
    value, count = leaf, size
    while count & 1:
        value = node(edge.pop(), value)
        count >>= 1
    edge.append(value)
    return size + 1


def consistent(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does the tree of `new` leaves extend the one of `old` leaves?"""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof or any(len(item) != 32 for item in proof):
        return False
    path = ([old_root] if old & (old - 1) == 0 else []) + proof
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for item in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(item, fr), node(item, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, item)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def unhex(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) for v in values):
        raise Failed(f"{what} is not a list of SHA-256 hashes")
    return [bytes.fromhex(value) for value in values]


# -- keys and signatures ----------------------------------------------------------------------------------------


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw(key)).hexdigest()[:16]


def signature_valid(key: Ed25519PublicKey, domain: bytes, payload: dict, signature: str) -> bool:
    try:
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), domain + canonical(payload))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


class Keys:
    """Trusted keys; with a key history, each key only for statements dated in its validity."""

    def __init__(self, trusted: list[Ed25519PublicKey], history: list[dict] | None) -> None:
        self.windows: dict[str, tuple[Ed25519PublicKey, datetime | None, datetime | None]] = {}
        if not history:
            self.windows = {key_id(key): (key, None, None) for key in trusted}
            return
        keys = []
        for number, entry in enumerate(history):
            try:
                key = Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"], validate=True))
            except (KeyError, TypeError, ValueError, binascii.Error):
                raise Failed(f"key history entry {number}: not an Ed25519 public key") from None
            payload = {
                "type": "audit-signing-key",
                "position": entry.get("position"),
                "key_id": entry.get("key_id"),
                "public_key": entry.get("public_key"),
                "valid_from": entry.get("valid_from"),
                "previous_key_id": entry.get("previous_key_id"),
            }
            if entry.get("position") != number or entry.get("key_id") != key_id(key):
                raise Failed(f"key history entry {number}: wrong position or key id")
            if not signature_valid(key, KEY_DOMAIN, payload, str(entry.get("self_signature"))):
                raise Failed(f"key history entry {number}: the key's own signature does not verify")
            if number == 0:
                if entry.get("valid_from") is not None or entry.get("previous_key_id") is not None:
                    raise Failed("key history entry 0 must be the first key (no valid_from, no predecessor)")
            else:
                previous_key, previous_from = keys[-1][0], keys[-1][1]
                if entry.get("previous_key_id") != key_id(previous_key) or not signature_valid(
                    previous_key, KEY_DOMAIN, payload, str(entry.get("signature"))
                ):
                    raise Failed(f"key history entry {number} is not vouched for by entry {number - 1}'s key")
                start = parse_time(entry["valid_from"])
                if previous_from is not None and start <= previous_from:
                    raise Failed(f"key history entry {number} takes over no later than entry {number - 1}")
            keys.append((key, None if number == 0 else parse_time(entry["valid_from"])))
        ids = [key_id(key) for key, _ in keys]
        for key in trusted:
            if key_id(key) not in ids or raw(keys[ids.index(key_id(key))][0]) != raw(key):
                raise Failed(f"the trusted key {key_id(key)} is not in the bucket's key history")
        for number, (key, start) in enumerate(keys):
            until = keys[number + 1][1] if number + 1 < len(keys) else None
            self.windows[ids[number]] = (key, start, until)

    def check(self, statement: dict, what: str) -> None:
        window = self.windows.get(statement.get("key_id", ""))
        if window is None:
            raise Failed(f"{what} is signed by key {statement.get('key_id')}, which is not trusted")
        key, start, until = window
        when = parse_time(statement["time"])
        if (start is not None and when < start) or (until is not None and when >= until):
            raise Failed(f"{what} is dated {statement['time']}, outside its key's validity (key history)")
        payload = {name: value for name, value in statement.items() if name != "signature"}
        if not signature_valid(key, HEAD_DOMAIN, payload, str(statement.get("signature"))):
            raise Failed(f"{what}: the signature does not verify")


# -- the synced history ---------------------------------------------------------------------------------------


def load_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise Failed(f"{what} cannot be read as JSON") from None
    if not isinstance(value, dict):
        raise Failed(f"{what} is not a JSON object")
    return value


def tree_head(head: dict, what: str) -> dict:
    statement = head.get("tree_head")
    if not isinstance(statement, dict) or set(statement) != CHECKPOINT_FIELDS or statement["type"] != "checkpoint":
        raise Failed(f"{what} has no signed tree head")
    return statement


def check_segment(root: Path, name: str, tenant: str, keys: Keys, state: dict, previous: dict | None) -> int:
    match = SEGMENT_NAME.match(name)
    if match is None:
        raise Failed(f"{name!r} is not a segment name")
    first, last = int(match.group(1)), int(match.group(2))
    if first != state["next"] and not (previous is None and state["next"] == 1 and first > 1):
        raise Failed(f"{name} starts at {first}, the records before end at {state['next'] - 1}")
    path = root / name
    if not path.is_file():
        raise Failed(f"{name} is missing from the bucket")
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        raise Failed(f"{name}: it does not end with a newline: it was cut")
    lines = data[:-1].split(b"\n")
    items = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            raise Failed(f"{name}: a line is not JSON") from None
        if canonical(item) != line:
            raise Failed(f"{name}: a line is not in canonical form")
        items.append(item)
    header = {"type": "segment", "version": 1, "tenant": tenant, "first_seq": first, "last_seq": last}
    if not items or items[0] != header:
        raise Failed(f"{name}: its first line is not the segment header its name and tenant call for")
    position, start_differs = 1, False
    if first > 1:
        anchor = None
        if len(items) > position and isinstance(items[position], dict) and items[position].get("type") == "anchor":
            anchor = items[position]
            keys.check(anchor, f"{name}: the prune anchor")
            if anchor.get("tenant") != tenant or anchor.get("seq") != first - 1:
                raise Failed(f"{name}: the anchor is not the one the segment starts after")
            position += 1
        start = items[position] if len(items) > position else None
        if not isinstance(start, dict) or start.get("type") != "tree-start" or start.get("size") != first - 1:
            raise Failed(f"{name}: no tree-start line for the records before it")
        subtrees = unhex(start.get("subtrees"), f"{name}: the tree-start")
        if len(subtrees) != bin(first - 1).count("1"):
            raise Failed(f"{name}: the tree-start has the wrong number of subtrees")
        position += 1
        if previous is None and state["next"] == 1:
            if anchor is None or anchor.get("root") != tree_root(subtrees).hex():
                raise Failed(
                    f"{name}: the history starts after seq 1 without a signed prune anchor for the records before"
                )
            state.update(last_hash=anchor["head_hash"], edge=list(subtrees), size=first - 1, first=first)
        held = tree_root(state["edge"]).hex() if state["edge"] is not None else previous["root"]
        start_differs = tree_root(subtrees).hex() != held
        if state["edge"] is None:
            state.update(edge=list(subtrees), size=first - 1)
    elif state.get("first") is None:
        state["first"] = 1
    records = items[position:]
    if len(records) != last - first + 1:
        raise Failed(f"{name}: it holds {len(records)} records, its name says {last - first + 1}")
    for seq, item in enumerate(records, start=first):
        body = item.get("body") if isinstance(item, dict) else None
        if not isinstance(body, dict) or item.get("type") != "record" or set(item) != {"body", "hash", "type"}:
            raise Failed(f"{name}: the line for record {seq} is not a record")
        digest = hashlib.sha256(canonical(body)).digest()
        if digest.hex() != item["hash"]:
            raise Failed(f"{name}: record {seq}'s content does not match its hash: it was altered")
        if body.get("seq") != seq or body.get("tenant") != tenant:
            raise Failed(f"{name}: the record at seq {seq} says seq {body.get('seq')} of tenant {body.get('tenant')}")
        if body.get("prev") != state["last_hash"]:
            raise Failed(f"{name}: record {seq} does not link to the record before it")
        state["last_hash"] = item["hash"]
        state["size"] = tree_append(state["edge"], state["size"], hashlib.sha256(b"\x00" + digest).digest())
    if start_differs:
        raise Failed(
            f"{name}: its tree-start does not make the root of the records before it: they, or it, were altered"
        )
    state["next"] = last + 1
    return len(records)


def verify(root: Path, keys: Keys) -> dict:
    report: dict = {
        "ok": False,
        "tenant": None,
        "heads": 0,
        "segments": 0,
        "records": 0,
        "first_seq": None,
        "latest": None,
        "problems": [],
        "notes": [],
    }
    names = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    heads = sorted((int(m.group(1)), name) for name in names if (m := HEAD_NAME.match(name)))
    named: set[str] = set()
    previous: dict | None = None
    chained = False
    for size, name in heads:
        try:
            head = load_json(root / name, name)
            statement = tree_head(head, name)
            proof = unhex(head.get("consistency"), f"{name}: the consistency proof")
            segments = head.get("segments")
            if not isinstance(segments, list) or not all(isinstance(item, str) for item in segments):
                raise Failed(f"{name}: its segments are not a list of object names")
            named.update(segments)
            if statement["seq"] != size:
                raise Failed(f"{name}: its tree head covers {statement['seq']} records, its name says {size}")
            report["tenant"] = report["tenant"] or head.get("tenant")
            if head.get("tenant") != report["tenant"] or statement["tenant"] != report["tenant"]:
                raise Failed(f"{name}: a head of another tenant")
            keys.check(statement, f"the tree head in {name}")
            if previous is None and chained:
                raise Failed(f"{name}: the head before it did not verify, so this one cannot be chained to it")
            expected = None if previous is None else {"size": previous["seq"], "root": previous["root"]}
            if head.get("previous") != expected:
                raise Failed(
                    f"{name}: it names another previous synced head than the bucket's: heads were deleted or rewritten"
                )
        except Failed as problem:
            report["problems"].append(str(problem))
            previous = None
            continue
        chained, previous_checked = True, previous
        previous = statement
        try:
            if previous_checked is not None and not consistent(
                previous_checked["seq"],
                size,
                bytes.fromhex(previous_checked["root"]),
                bytes.fromhex(statement["root"]),
                proof,
            ):
                previous = None
                raise Failed(f"{name}: it does not extend the previous synced head")
            state: dict = {
                "next": 1 if previous_checked is None else previous_checked["seq"] + 1,
                "last_hash": hashlib.sha256(b"enclave-audit-genesis\x00" + str(report["tenant"]).encode()).hexdigest()
                if previous_checked is None
                else previous_checked["head_hash"],
                "edge": [] if previous_checked is None else None,
                "size": 0,
                "first": report["first_seq"],
            }
            count = 0
            for segment in segments:
                count += check_segment(root, segment, report["tenant"], keys, state, previous_checked)
            if state["next"] - 1 != size:
                raise Failed(f"{name}: its segments end at {state['next'] - 1}, its tree head at {size}")
            if (
                state["edge"] is None
                or tree_root(state["edge"]).hex() != statement["root"]
                or state["last_hash"] != statement["head_hash"]
            ):
                raise Failed(
                    f"{name}: the records of its segments do not make the tree its signed head signs: they were altered"
                )
        except Failed as problem:
            report["problems"].append(str(problem))
            continue
        report["first_seq"] = report["first_seq"] or state.get("first")
        report["records"] += count
        report["segments"] += len(segments)
        report["heads"] += 1
        report["latest"] = statement
    for name in names:
        if SEGMENT_NAME.match(name) and name not in named:
            report["notes"].append(f"{name} is named by no synced head (a sync that broke off); it was not checked")
    report["ok"] = not report["problems"] and report["heads"] > 0
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="a local copy of the bucket's audit prefix")
    parser.add_argument(
        "--public-key",
        type=Path,
        action="append",
        required=True,
        metavar="PEM",
        help="the gateway's audit public key (repeat for several); trusted out of band",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    if not args.directory.is_dir():
        parser.error(f"{args.directory}: no such directory")
    trusted = []
    for path in args.public_key:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError):
            parser.error(f"{path}: not a PEM public key")
        if not isinstance(key, Ed25519PublicKey):
            parser.error(f"{path}: not an Ed25519 key")
        trusted.append(key)
    history = []
    for path in sorted((args.directory / "keys").glob("*.json")):
        try:
            history.append(json.loads(path.read_bytes()))
        except ValueError:
            print(f"FAILED: {path.name} is not JSON", file=sys.stderr)
            return 1
    try:
        keys = Keys(trusted, sorted(history, key=lambda entry: entry.get("position", -1)) or None)
    except Failed as problem:
        print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    report = verify(args.directory, keys)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        latest = report["latest"]
        print(
            f"tenant {report['tenant'] or '?'}: {report['heads']} synced heads, {report['segments']} segments, "
            f"{report['records']} records"
        )
        if latest:
            print(
                f"history: records {report['first_seq']}..{latest['seq']}; latest synced head: size {latest['seq']}, "
                f"root {latest['root']}, signed {latest['time']} by key {latest['key_id']}"
            )
        for note in report["notes"]:
            print(f"note: {note}")
        for problem in report["problems"]:
            print(f"FAILED: {problem}", file=sys.stderr)
        print(
            "OK: the synced history verified" if report["ok"] else "FAILED: the synced history did not verify",
            file=sys.stdout if report["ok"] else sys.stderr,
        )
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
