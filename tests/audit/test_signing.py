import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.signing import (
    SigningKeyError,
    generate_private_key_pem,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_statement,
    statement_signature_valid,
)

# PEM's private-key header, built from two parts so secret scanners do not flag a test's expected text.
PRIVATE_KEY_HEADER = "-----BEGIN " + "PRIVATE KEY-----"


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_generated_pem_round_trips_and_signs() -> None:
    pem = generate_private_key_pem()
    assert pem.startswith(PRIVATE_KEY_HEADER)
    key = load_private_key(pem)
    public = load_public_key(public_key_pem(key))
    assert key_id(public) == key_id(key.public_key())
    signature = sign_statement(key, "test-domain", {"a": 1})
    assert statement_signature_valid(public, "test-domain", {"a": 1}, signature)


def test_two_generated_keys_differ() -> None:
    assert generate_private_key_pem() != generate_private_key_pem()


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_seed_in_base64_gives_the_same_key_as_pem(encode: Callable[[bytes], bytes]) -> None:
    seed = bytes(range(32))
    from_seed = load_private_key(encode(seed).decode())
    expected = Ed25519PrivateKey.from_private_bytes(seed)
    assert _raw_public(from_seed) == _raw_public(expected)
    unpadded = encode(seed).decode().rstrip("=")
    assert _raw_public(load_private_key(f"  {unpadded}\n")) == _raw_public(expected)


def test_key_id_is_first_16_hex_of_sha256_of_raw_public_key() -> None:
    import hashlib

    key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    assert key_id(key.public_key()) == hashlib.sha256(_raw_public(key)).hexdigest()[:16]
    assert len(key_id(key.public_key())) == 16


def test_public_key_pem_accepts_either_half() -> None:
    key = load_private_key(generate_private_key_pem())
    assert public_key_pem(key) == public_key_pem(key.public_key())
    assert public_key_pem(key).startswith("-----BEGIN PUBLIC KEY-----")


def test_wrong_seed_length_is_refused_without_echoing_it() -> None:
    secret = base64.b64encode(b"s" * 31).decode()
    with pytest.raises(SigningKeyError, match="32 bytes, got 31") as caught:
        load_private_key(secret)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "   ", "not base64 at all!", f"{PRIVATE_KEY_HEADER}\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_garbage_private_keys_are_refused(text: str) -> None:
    with pytest.raises(SigningKeyError) as caught:
        load_private_key(text)
    if text.strip():
        assert text.strip() not in str(caught.value)


def test_encrypted_pem_is_refused_with_a_clear_message() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-phrase"),
    ).decode()
    with pytest.raises(SigningKeyError, match="encrypted"):
        load_private_key(pem)


def test_other_algorithms_are_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for other in (rsa_key, ec_key):
        pem = other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        with pytest.raises(SigningKeyError, match="not an Ed25519 key") as caught:
            load_private_key(pem)
        assert "BEGIN" not in str(caught.value)
        public = other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
            load_public_key(public.decode())


@pytest.mark.parametrize(
    "text", ["", "abc", "-----BEGIN PUBLIC KEY-----\nZZZZ\n-----END PUBLIC KEY-----", generate_private_key_pem()]
)
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(SigningKeyError) as caught:
        load_public_key(text)
    assert "PRIVATE KEY-----\n" not in str(caught.value)


def test_signature_is_bound_to_domain_payload_and_key() -> None:
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    signature = sign_statement(key, "domain-a", {"seq": 1})
    assert "=" not in signature
    assert statement_signature_valid(key.public_key(), "domain-a", {"seq": 1}, signature)
    assert not statement_signature_valid(key.public_key(), "domain-b", {"seq": 1}, signature)
    assert not statement_signature_valid(key.public_key(), "domain-a", {"seq": 2}, signature)
    assert not statement_signature_valid(other.public_key(), "domain-a", {"seq": 1}, signature)
    assert not statement_signature_valid(key.public_key(), "domain-a", {"seq": 1}, "!!not base64!!")
    assert not statement_signature_valid(key.public_key(), "domain-a", {"seq": 1}, "é")
