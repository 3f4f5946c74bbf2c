"""Secrets the gateway must read back (identity providers' client secrets, sessions' refresh tokens) are sealed
at rest with AES-256-GCM under the deployment's secrets key, so a database dump, a backup or a read-only
database account does not hand them out.

A sealed value is `sealed:v1:<key id>:<base64url(nonce || ciphertext || tag)>`. The key id names the key that
sealed it (so a rotated key can still open older values, and `enclave secrets reseal` can find them); the
associated data binds the format, the key id and the column's purpose, so a value copied from one column into
another does not open. Sealing does not protect against someone who can *write* the database (they can point a
provider's issuer at their own server and wait for the gateway to send the secret): keep write access narrow.

Columns of type `SealedText` seal and open through the sealer bound to their engine (`bind_sealer`): a write
with no sealer bound raises, so nothing is ever stored in clear. A value that cannot be opened (sealed under a
key this gateway was not given, or altered) reads as absent — a provider without its client secret is refused
by the provider, a session without its refresh token must sign in again — and is logged by column and key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, Engine, Text
from sqlalchemy.types import TypeDecorator

PREFIX = "sealed:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_CHARS = 12
HEADER_CHARS = len(PREFIX) + KEY_ID_CHARS + 1  # "sealed:v1:<key id>:"
_log = logging.getLogger(__name__)


class SecretsKeyError(ValueError):
    """A secrets key that is not base64 of exactly 32 bytes (the message never includes the key)."""


class SealingError(RuntimeError):
    """A sealed value cannot be written or opened; the message names the column and key id, never the value."""


def generate_secrets_key() -> str:
    """A fresh secrets key: 32 random bytes, base64 (what ENCLAVE_SECRETS_KEY takes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_secrets_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretsKeyError("a secrets key is base64 (make one with `enclave secrets keygen`)") from None
    if len(key) != KEY_BYTES:
        raise SecretsKeyError(
            f"a secrets key is {KEY_BYTES} bytes, base64-encoded (make one with `enclave secrets keygen`)"
        )
    return key


def parse_secrets_keys(text: str) -> list[bytes]:
    """Comma-separated secrets keys (a rotation's previous ones); empty items are skipped."""
    return [parse_secrets_key(part) for part in text.split(",") if part.strip()]


def secrets_key_id(key: bytes) -> str:
    """A short public name for a key: a prefix of SHA-256 over a domain label and the key."""
    return hashlib.sha256(b"enclave-secrets-key-id\x00" + key).hexdigest()[:KEY_ID_CHARS]


def sealed_header(key_id: str) -> str:
    """What every value sealed with the key `key_id` starts with."""
    return f"{PREFIX}{key_id}:"


def sealed_key_id(value: str) -> str | None:
    """The key id a sealed value names; None when `value` is not in the sealed format."""
    if not value.startswith(PREFIX):
        return None
    key_id, separator, _ = value[len(PREFIX) :].partition(":")
    return key_id if separator and len(key_id) == KEY_ID_CHARS else None


@dataclass(frozen=True)
class _Key:
    id: str
    aead: AESGCM


class SecretSealer:
    """Seals with the current key; opens with the current key or any previous one (a rotation in progress)."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        keys = [_Key(secrets_key_id(key), AESGCM(key)) for key in (current, *previous)]
        self._current = keys[0]
        self._keys = {key.id: key for key in reversed(keys)}  # the current key wins a (2^-48) id collision

    @property
    def key_id(self) -> str:
        return self._current.id

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode("utf-8"), _associated(self._current.id, purpose))
        return sealed_header(self._current.id) + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, value: str, purpose: str) -> str:
        """The plaintext of `value`; SealingError (naming only `purpose` and the key id) when it cannot be."""
        key_id = sealed_key_id(value)
        if key_id is None:
            raise SealingError(f"{purpose}: the stored value is not sealed")
        key = self._keys.get(key_id)
        if key is None:
            raise SealingError(
                f"{purpose}: sealed with key {key_id}, which this gateway was not given "
                "(give it back in ENCLAVE_SECRETS_PREVIOUS_KEYS, or set the secret again)"
            )
        try:
            encoded = value[HEADER_CHARS:].encode("ascii")
            blob = base64.urlsafe_b64decode(encoded)
            if base64.urlsafe_b64encode(blob) != encoded:  # one stored form per value: no spare padding bits
                raise ValueError("not canonical base64")
            plaintext = key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated(key_id, purpose))
            return plaintext.decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag):
            raise SealingError(f"{purpose}: the value sealed with key {key_id} was altered") from None


def _associated(key_id: str, purpose: str) -> bytes:
    return f"{PREFIX}{key_id}\x00{purpose}".encode()


_sealers: weakref.WeakKeyDictionary[Dialect, SecretSealer] = weakref.WeakKeyDictionary()


def bind_sealer(engine: Engine, sealer: SecretSealer) -> None:
    """Make `sealer` the one SealedText columns use on `engine` (Runtime.open does this before migrating)."""
    _sealers[engine.dialect] = sealer


def sealer_for(dialect: Dialect) -> SecretSealer:
    sealer = _sealers.get(dialect)
    if sealer is None:
        raise SealingError("no secrets key is bound to this database engine (open it through enclave.runtime)")
    return sealer


class SealedText(TypeDecorator[str]):
    """A text column whose values are sealed before they reach the database. `purpose` names the column."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else sealer_for(dialect).seal(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        sealer = sealer_for(dialect)
        try:
            return sealer.open(value, self.purpose)
        except SealingError as exc:
            _log.warning("sealed secret unreadable, treated as absent (see `enclave secrets check`): %s", exc)
            return None
