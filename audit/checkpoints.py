"""Signed statements about a tenant's log: signed tree heads (checkpoints) and retention anchors.

A checkpoint is a signed tree head in the sense of RFC 9162 §4.10: "the tree of `tenant`'s first `seq` records
has Merkle root `root`; record `seq` has hash `head_hash`; the chain it ends starts right after record
`pruned_count` (0: at the genesis)", signed with Ed25519 at `time`. The gateway signs one with every commit
that appends records (so no record is ever unsigned), and keeps some of them (every N records or T seconds) as
intermediate checkpoints. Altering any record up to `seq`, or deleting the oldest ones, is detectable by anyone
holding the public key. An anchor is the statement left behind by pruning: records up to `seq` were removed
(`pruned_count` of them), the tree they formed has root `root`, and the next record must link to `head_hash`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, cast

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.canonical import JsonValue, canonical_bytes, field_problem
from audit.events import HASH_HEX_LENGTH, format_time, parse_time
from audit.signing import key_id, sign_statement, statement_signature_valid
from tenancy.names import is_tenant_name

CheckpointKind: TypeAlias = Literal["checkpoint", "anchor"]
CHECKPOINT_KINDS: tuple[CheckpointKind, ...] = ("checkpoint", "anchor")
SIGNING_DOMAIN = "enclave-audit-checkpoint-v2"  # v2: the statement includes the Merkle root

_HEX_HASH = re.compile(rf"^[0-9a-f]{{{HASH_HEX_LENGTH}}}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_FIELDS = ("type", "tenant", "seq", "head_hash", "root", "time", "key_id", "pruned_count", "signature")


class InvalidCheckpointError(ValueError):
    """A checkpoint whose fields are malformed; the message names the field."""


class CheckpointSignatureError(ValueError):
    """A checkpoint whose signature does not verify with the given public key."""


class UnknownCheckpointKeyError(CheckpointSignatureError):
    """A checkpoint signed by a different key than the one given (the key ids differ)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    kind: CheckpointKind
    tenant: str
    seq: int
    head_hash: str
    root: str  # the Merkle tree hash (RFC 9162) of records 1..seq, hex
    time: datetime
    key_id: str
    signature: str
    pruned_count: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CHECKPOINT_KINDS:
            raise InvalidCheckpointError(f"kind must be one of {', '.join(CHECKPOINT_KINDS)}")
        if not is_tenant_name(self.tenant):
            raise InvalidCheckpointError("tenant is not a valid tenant id")
        if not _is_int(self.seq) or self.seq < 1:
            raise InvalidCheckpointError("seq must be an integer >= 1")
        if not isinstance(self.head_hash, str) or not _HEX_HASH.match(self.head_hash):
            raise InvalidCheckpointError(f"head_hash must be {HASH_HEX_LENGTH} lowercase hex digits")
        if not isinstance(self.root, str) or not _HEX_HASH.match(self.root):
            raise InvalidCheckpointError(f"root must be {HASH_HEX_LENGTH} lowercase hex digits")
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise InvalidCheckpointError("time must be a timezone-aware datetime")
        if not isinstance(self.key_id, str) or not _KEY_ID.match(self.key_id):
            raise InvalidCheckpointError("key_id must be 16 lowercase hex digits")
        if not isinstance(self.signature, str) or not _BASE64URL.match(self.signature):
            raise InvalidCheckpointError("signature must be base64url without padding")
        if not _is_int(self.pruned_count) or not 0 <= self.pruned_count <= self.seq:
            raise InvalidCheckpointError("pruned_count must be an integer between 0 and seq")
        if self.kind == "checkpoint" and self.pruned_count >= self.seq:
            raise InvalidCheckpointError("pruned_count of a checkpoint (where its chain starts) must be below seq")

    def signed_payload(self) -> dict[str, JsonValue]:
        """Every field except the signature: what the signature covers."""
        return {
            "type": self.kind,
            "tenant": self.tenant,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "root": self.root,
            "time": format_time(self.time),
            "key_id": self.key_id,
            "pruned_count": self.pruned_count,
        }

    def to_json(self) -> dict[str, JsonValue]:
        return {**self.signed_payload(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse the `to_json` form; raises InvalidCheckpointError naming the first bad field."""
        if not isinstance(data, dict):
            raise InvalidCheckpointError("a checkpoint must be a JSON object")
        problem = field_problem(data, _FIELDS, "checkpoint")
        if problem is not None:
            raise InvalidCheckpointError(problem)
        if data["type"] not in CHECKPOINT_KINDS:
            raise InvalidCheckpointError(f"type must be one of {', '.join(CHECKPOINT_KINDS)}")
        try:
            moment = parse_time(data["time"])
        except (TypeError, ValueError):
            raise InvalidCheckpointError("time must look like 2026-01-31T12:00:00.000000Z") from None
        return cls(
            kind=cast(CheckpointKind, data["type"]),
            tenant=data["tenant"],
            seq=data["seq"],
            head_hash=data["head_hash"],
            root=data["root"],
            time=moment,
            key_id=data["key_id"],
            signature=data["signature"],
            pruned_count=data["pruned_count"],
        )


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    """The canonical JSON of a checkpoint: how a signed tree head is stored in a head row."""
    return canonical_bytes(checkpoint.to_json())


def parse_checkpoint_bytes(raw: bytes) -> Checkpoint:
    """The inverse of `checkpoint_bytes`; InvalidCheckpointError when `raw` is not a checkpoint."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidCheckpointError("a checkpoint must be JSON") from None
    return Checkpoint.from_json(data)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    *,
    kind: CheckpointKind,
    tenant: str,
    seq: int,
    head_hash: str,
    root: str,
    time: datetime,
    pruned_count: int = 0,
) -> Checkpoint:
    """Sign a statement about `tenant`'s log at `seq`. `time` is stored in UTC to the microsecond."""
    if not isinstance(time, datetime) or time.tzinfo is None:
        raise InvalidCheckpointError("time must be a timezone-aware datetime")
    moment = time.astimezone(UTC)
    signer = key_id(private_key.public_key())
    unsigned = Checkpoint(kind, tenant, seq, head_hash, root, moment, signer, "unsigned", pruned_count)
    signature = sign_statement(private_key, SIGNING_DOMAIN, unsigned.signed_payload())
    return replace(unsigned, signature=signature)


def verify_checkpoint(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> None:
    """Raise CheckpointSignatureError (UnknownCheckpointKeyError for another key) unless the signature holds."""
    expected = key_id(public_key)
    if checkpoint.key_id != expected:
        raise UnknownCheckpointKeyError(
            f"{checkpoint.kind} for seq {checkpoint.seq} is signed by key {checkpoint.key_id}, not {expected}"
        )
    if not statement_signature_valid(public_key, SIGNING_DOMAIN, checkpoint.signed_payload(), checkpoint.signature):
        raise CheckpointSignatureError(
            f"{checkpoint.kind} for seq {checkpoint.seq} of {checkpoint.tenant}: signature does not verify"
        )
