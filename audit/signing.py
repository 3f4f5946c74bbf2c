"""Ed25519 keys for signing checkpoints, anchors and export proofs.

The private key comes from settings as PEM (PKCS#8) or as a base64 32-byte seed; the public key is published
as PEM so an auditor can verify an export offline. No error message ever contains key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.canonical import JsonValue, canonical_bytes

SEED_BYTES = 32
KEY_ID_HEX_LENGTH = 16
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


class SigningKeyError(ValueError):
    """A key that cannot be used; the message says why without repeating the key."""


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from unencrypted PEM (PKCS#8) or a base64-encoded 32-byte seed."""
    stripped = text.strip()
    if not stripped:
        raise SigningKeyError("private key is empty")
    if stripped.startswith("-----BEGIN"):
        return _private_key_from_pem(stripped)
    return _private_key_from_seed(stripped)


def _private_key_from_pem(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except TypeError:
        raise SigningKeyError("private key PEM is encrypted; give an unencrypted PKCS#8 key") from None
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise SigningKeyError("private key is not a valid PEM (PKCS#8) key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError("private key is not an Ed25519 key; the audit log signs with Ed25519")
    return key


def _private_key_from_seed(text: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(_pad(text.translate(_URLSAFE_TO_STANDARD)), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError("private key is neither PEM nor a base64-encoded 32-byte seed") from None
    if len(seed) != SEED_BYTES:
        raise SigningKeyError(f"private key seed must be {SEED_BYTES} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def generate_private_key_pem() -> str:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM (for settings or a secret store)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode("ascii")


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public half as SubjectPublicKeyInfo PEM: what `/api/v1/audit/public-key` serves."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from SubjectPublicKeyInfo PEM."""
    stripped = text.strip()
    if not stripped.startswith("-----BEGIN PUBLIC KEY-----"):
        raise SigningKeyError("public key must be a PEM block starting with '-----BEGIN PUBLIC KEY-----'")
    try:
        key = serialization.load_pem_public_key(stripped.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise SigningKeyError("public key is not a valid PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("public key is not an Ed25519 key; the audit log signs with Ed25519")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short public name for a key: the first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX_LENGTH]


def _signed_message(domain: str, payload: dict[str, JsonValue]) -> bytes:
    """A fixed domain prefix keeps a signature over one kind of statement from passing as another."""
    return domain.encode("ascii") + b"\x00" + canonical_bytes(payload)


def sign_statement(private_key: Ed25519PrivateKey, domain: str, payload: dict[str, JsonValue]) -> str:
    """Sign the canonical encoding of `payload` under `domain`; base64url without padding."""
    signature = private_key.sign(_signed_message(domain, payload))
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def statement_signature_valid(
    public_key: Ed25519PublicKey, domain: str, payload: dict[str, JsonValue], signature: str
) -> bool:
    """True when `signature` (base64url, no padding) signs `payload` under `domain` with `public_key`."""
    try:
        raw = base64.urlsafe_b64decode(_pad(signature))
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, _signed_message(domain, payload))
    except InvalidSignature:
        return False
    return True
