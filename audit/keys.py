"""Which keys a verifier accepts, and for when: given public keys, or a published key history.

When the gateway's signing key is rotated, the new key is published as the next entry of the key history:
its public key and the time it takes over (`valid_from`), signed by the previous key (which vouches for it)
and by the new key itself (which proves it holds the private half and names its predecessor). Entry 0 is the
first key, valid from the start. Key n is valid from its `valid_from` until entry n+1's.

A verifier given a history and at least one public key it trusts (obtained out of band) accepts every key the
chain of signatures connects to that one, each only for statements dated inside its validity: a signed tree
head by its `time`, an export's proof by the export's `exported_at`. A stolen old key cannot sign anything
dated after it was replaced without the verifier saying so.

    {"type":"audit-key-history","version":1,"entries":[
      {"position":0,"key_id":"...","public_key":"<base64 of the raw 32-byte key>","valid_from":null,
       "previous_key_id":null,"signature":null,"self_signature":"..."},
      {"position":1,...,"valid_from":"2027-01-01T00:00:00.000000Z","previous_key_id":"...","signature":"...",...}]}
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.canonical import JsonValue
from audit.checkpoints import SIGNING_DOMAIN, Checkpoint
from audit.events import format_time, parse_time
from audit.signing import key_id, sign_statement, statement_signature_valid

HISTORY_DOMAIN = "enclave-audit-key-history-v1"
HISTORY_TYPE = "audit-key-history"
_ENTRY_FIELDS = (
    "position",
    "key_id",
    "public_key",
    "valid_from",
    "previous_key_id",
    "signature",
    "self_signature",
)


class KeyHistoryError(ValueError):
    """A key history that is malformed or whose signatures do not chain; the message says where."""


class UntrustedKeyError(ValueError):
    """A statement signed by a key that is not trusted, or not for the statement's time."""


def raw_public_key(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _load_raw(text: object) -> Ed25519PublicKey:
    if not isinstance(text, str):
        raise KeyHistoryError("public_key must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise KeyHistoryError("public_key is not a base64-encoded 32-byte Ed25519 key") from None


@dataclass(frozen=True, slots=True)
class KeyEntry:
    position: int
    public_key: Ed25519PublicKey
    valid_from: datetime | None  # None: from the start (entry 0 only)
    previous_key_id: str | None
    signature: str | None  # by the previous key; None for entry 0
    self_signature: str

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def signed_payload(self) -> dict[str, JsonValue]:
        return {
            "type": "audit-signing-key",
            "position": self.position,
            "key_id": self.key_id,
            "public_key": raw_public_key(self.public_key),
            "valid_from": None if self.valid_from is None else format_time(self.valid_from),
            "previous_key_id": self.previous_key_id,
        }

    def to_json(self) -> dict[str, JsonValue]:
        payload = self.signed_payload()
        del payload["type"]
        return {**payload, "signature": self.signature, "self_signature": self.self_signature}

    @classmethod
    def from_json(cls, data: Any) -> KeyEntry:
        if not isinstance(data, dict) or set(data) != set(_ENTRY_FIELDS):
            raise KeyHistoryError(f"a key history entry has exactly the fields {', '.join(_ENTRY_FIELDS)}")
        position = data["position"]
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise KeyHistoryError("position must be a non-negative integer")
        key = _load_raw(data["public_key"])
        if data["key_id"] != key_id(key):
            raise KeyHistoryError(f"entry {position}: key_id does not name its public key")
        valid_from = None
        if data["valid_from"] is not None:
            try:
                valid_from = parse_time(data["valid_from"])
            except (TypeError, ValueError):
                raise KeyHistoryError(
                    f"entry {position}: valid_from must look like 2027-01-31T12:00:00.000000Z"
                ) from None
        for name in ("previous_key_id", "signature"):
            if data[name] is not None and not isinstance(data[name], str):
                raise KeyHistoryError(f"entry {position}: {name} must be text or null")
        if not isinstance(data["self_signature"], str):
            raise KeyHistoryError(f"entry {position}: self_signature must be text")
        return cls(position, key, valid_from, data["previous_key_id"], data["signature"], data["self_signature"])


def first_entry(key: Ed25519PrivateKey) -> KeyEntry:
    """Entry 0: the first signing key, valid from the start, signed by itself."""
    unsigned = KeyEntry(0, key.public_key(), None, None, None, "")
    return KeyEntry(
        0, key.public_key(), None, None, None, sign_statement(key, HISTORY_DOMAIN, unsigned.signed_payload())
    )


def rotation_entry(
    previous: KeyEntry, previous_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey, valid_from: datetime
) -> KeyEntry:
    """The entry after `previous`: `new_key` takes over at `valid_from`, vouched for by `previous_key`."""
    if key_id(previous_key.public_key()) != previous.key_id:
        raise KeyHistoryError("the previous private key is not the history's newest key")
    if previous.valid_from is not None and valid_from <= previous.valid_from:
        raise KeyHistoryError("a new key must take over after the previous one did")
    if key_id(new_key.public_key()) == previous.key_id:
        raise KeyHistoryError("the new key is the current key")
    unsigned = KeyEntry(previous.position + 1, new_key.public_key(), valid_from, previous.key_id, None, "")
    payload = unsigned.signed_payload()
    return KeyEntry(
        unsigned.position,
        unsigned.public_key,
        valid_from,
        previous.key_id,
        sign_statement(previous_key, HISTORY_DOMAIN, payload),
        sign_statement(new_key, HISTORY_DOMAIN, payload),
    )


@dataclass(frozen=True)
class KeyValidity:
    key: Ed25519PublicKey
    valid_from: datetime | None
    valid_until: datetime | None


class TrustedKeys:
    """The keys a verifier accepts: with no history, each given key at any time; with a history, each key the
    history connects to a given one, inside its validity."""

    def __init__(self, keys: Iterable[Ed25519PublicKey], history: Sequence[KeyEntry] | None = None) -> None:
        given = {key_id(key): key for key in keys}
        if not given:
            raise ValueError("at least one public key is needed to verify")
        self.with_history = history is not None
        if history is None:
            self.validity = {kid: KeyValidity(key, None, None) for kid, key in given.items()}
        else:
            self.validity = _chain(list(history), given)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self.validity)

    def key_for(self, signer: str, at: datetime | None, what: str) -> Ed25519PublicKey:
        """The key `signer` names, if it may sign `what` dated `at`; UntrustedKeyError saying why not."""
        entry = self.validity.get(signer)
        if entry is None:
            given = ", ".join(self.key_ids)
            raise UntrustedKeyError(f"{what} is signed by key {signer}; the keys trusted are {given}")
        if at is not None and (
            (entry.valid_from is not None and at < entry.valid_from)
            or (entry.valid_until is not None and at >= entry.valid_until)
        ):
            window = (
                f"from {format_time(entry.valid_from) if entry.valid_from else 'the start'} "
                f"until {format_time(entry.valid_until) if entry.valid_until else 'now'}"
            )
            raise UntrustedKeyError(
                f"{what} is dated {format_time(at)}, outside the validity of key {signer} ({window}, key history)"
            )
        return entry.key


def signature_problem(keys: TrustedKeys, statement: Checkpoint, what: str) -> str | None:
    """Why `statement` (a signed tree head or an anchor) is not signed by a key `keys` trusts at its time; None
    when it is."""
    try:
        key = keys.key_for(statement.key_id, statement.time, what)
    except UntrustedKeyError as exc:
        return str(exc)
    if not statement_signature_valid(key, SIGNING_DOMAIN, statement.signed_payload(), statement.signature):
        return f"{what}: the signature does not verify"
    return None


def _chain(entries: list[KeyEntry], given: dict[str, Ed25519PublicKey]) -> dict[str, KeyValidity]:
    if not entries:
        raise KeyHistoryError("the key history is empty")
    for number, entry in enumerate(entries):
        if entry.position != number:
            raise KeyHistoryError(f"entry {number} says it is at position {entry.position}")
        payload = entry.signed_payload()
        if not statement_signature_valid(entry.public_key, HISTORY_DOMAIN, payload, entry.self_signature):
            raise KeyHistoryError(f"entry {number}: the key's own signature does not verify")
        if number == 0:
            if entry.valid_from is not None or entry.previous_key_id is not None or entry.signature is not None:
                raise KeyHistoryError("entry 0 is the first key: no valid_from, previous key or vouching signature")
            continue
        previous = entries[number - 1]
        if entry.previous_key_id != previous.key_id or entry.signature is None:
            raise KeyHistoryError(f"entry {number} does not name entry {number - 1}'s key as its predecessor")
        if not statement_signature_valid(previous.public_key, HISTORY_DOMAIN, payload, entry.signature):
            raise KeyHistoryError(f"entry {number}: the previous key's signature does not verify")
        if entry.valid_from is None or (previous.valid_from is not None and entry.valid_from <= previous.valid_from):
            raise KeyHistoryError(f"entry {number} takes over no later than entry {number - 1}")
    ids = [entry.key_id for entry in entries]
    if len(set(ids)) != len(ids):
        raise KeyHistoryError("a key appears twice in the history")
    for kid, key in given.items():
        if kid not in ids:
            raise KeyHistoryError(f"the trusted key {kid} is not in the key history")
        if _raw(entries[ids.index(kid)].public_key) != _raw(key):
            raise KeyHistoryError(f"the trusted key {kid} differs from the history's")
    result: dict[str, KeyValidity] = {}
    for number, entry in enumerate(entries):
        until = entries[number + 1].valid_from if number + 1 < len(entries) else None
        result[entry.key_id] = KeyValidity(entry.public_key, entry.valid_from, until)
    return result


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def history_document(entries: Sequence[KeyEntry]) -> dict[str, JsonValue]:
    return {"type": HISTORY_TYPE, "version": 1, "entries": [entry.to_json() for entry in entries]}


def parse_history(data: Any) -> list[KeyEntry]:
    """The entries of a key-history document; KeyHistoryError when it is not one (signatures are checked by
    TrustedKeys)."""
    if not isinstance(data, dict) or data.get("type") != HISTORY_TYPE or data.get("version") != 1:
        raise KeyHistoryError('not a key history ({"type":"audit-key-history","version":1,...})')
    if set(data) != {"type", "version", "entries"} or not isinstance(data["entries"], list):
        raise KeyHistoryError("a key history has exactly type, version and a list of entries")
    return [KeyEntry.from_json(item) for item in data["entries"]]
