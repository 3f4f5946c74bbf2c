"""ID-token validation and the JWKS cache on their own, with tokens signed here: key selection, skipped keys,
leeway edges, malformed input, the refetch rate limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from auth.sso.errors import LoginRefusedError
from auth.sso.idtoken import LEEWAY_SECONDS, LOGOUT_EVENT, Expected, nonce_hash, validate_id_token
from auth.sso.jwks import JwksCache

RSA = RSAKey.generate_key(2048, parameters={"kid": "r1", "use": "sig"}, private=True)
RSA2 = RSAKey.generate_key(2048, parameters={"kid": "r2"}, private=True)
EC = ECKey.generate_key("P-256", parameters={"kid": "e1"}, private=True)
NOW = 1_800_000_000.0
EXPECTED = Expected("https://idp.test", "client", "nonce-1")


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": "https://idp.test",
        "aud": "client",
        "sub": "u1",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "nonce": "nonce-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey | ECKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    return jwt.encode(header, payload, key)


def cache(*keys: dict[str, Any]) -> JwksCache:
    return JwksCache(lambda: {"keys": list(keys)})


def test_valid_token_and_key_by_kid() -> None:
    jwks = cache(RSA2.as_dict(private=False), RSA.as_dict(private=False))
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims())
    assert validate_id_token(token, jwks, EXPECTED, NOW)["sub"] == "u1"


def test_es256_is_supported() -> None:
    token = sign(EC, {"alg": "ES256", "kid": "e1"}, claims())
    assert validate_id_token(token, cache(EC.as_dict(private=False)), EXPECTED, NOW)["sub"] == "u1"


def test_without_kid_exactly_one_fitting_key_is_needed() -> None:
    token = sign(RSA, {"alg": "RS256"}, claims())
    assert validate_id_token(token, cache(RSA.as_dict(private=False), EC.as_dict(private=False)), EXPECTED, NOW)
    with pytest.raises(LoginRefusedError, match="no single key"):
        validate_id_token(token, cache(RSA.as_dict(private=False), RSA2.as_dict(private=False)), EXPECTED, NOW)


@pytest.mark.parametrize(
    "entry",
    [
        {**RSA.as_dict(private=True)},  # a private key published by mistake: never used
        {**RSA.as_dict(private=False), "use": "enc"},
        {**RSA.as_dict(private=False), "alg": "RS512"},  # pinned to another algorithm
        {**OctKey.import_key(b"k" * 32, parameters={"kid": "r1"}).as_dict(private=True)},
        {"kty": "RSA", "kid": "r1", "n": "***", "e": "AQAB"},
        "not even an object",
    ],
    ids=["private", "enc", "other-alg", "symmetric", "unparseable", "garbage"],
)
def test_unusable_keys_are_skipped(entry: Any) -> None:
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims())
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(entry), EXPECTED, NOW)
    assert refused.value.reason == "unknown_kid"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(NOW) - LEEWAY_SECONDS - 1}, "expired"),
        ({"iat": int(NOW) + LEEWAY_SECONDS + 1, "exp": int(NOW) + 900}, "iat_in_future"),
        ({"nbf": int(NOW) + LEEWAY_SECONDS + 1}, "not_yet_valid"),
        ({"exp": "tomorrow"}, "exp_invalid"),
        ({"iat": None}, "iat_invalid"),
        ({"iat": True}, "iat_invalid"),
        ({"aud": ["client", "other"]}, "azp_mismatch"),
        ({"azp": "other"}, "azp_mismatch"),
        ({"aud": {"client": 1}}, "audience_mismatch"),
        ({"iss": "https://idp.test/"}, "issuer_mismatch"),  # exact: a trailing slash is another issuer
        ({"nonce": None}, "nonce_mismatch"),
        ({"sub": ""}, "sub_invalid"),
        ({"sub": 42}, "sub_invalid"),
    ],
)
def test_claim_checks(changes: dict[str, Any], reason: str) -> None:
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims(**changes))
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED, NOW)
    assert refused.value.reason == reason


def test_leeway_edges_are_accepted() -> None:
    token = sign(
        RSA, {"alg": "RS256", "kid": "r1"}, claims(exp=int(NOW) - LEEWAY_SECONDS, nbf=int(NOW) + LEEWAY_SECONDS)
    )
    assert validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED, NOW)
    multi = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims(aud=["client", "other"], azp="client"))
    assert validate_id_token(multi, cache(RSA.as_dict(private=False)), EXPECTED, NOW)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!!.e30.x", "e30.e30.", "W10.e30.x", "x" * 20_000])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED, NOW)
    assert refused.value.reason in ("malformed_token", "alg_not_allowed")


def test_provider_can_narrow_the_algorithms() -> None:
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims())
    narrowed = Expected("https://idp.test", "client", "nonce-1", algorithms=("ES256",))
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(RSA.as_dict(private=False)), narrowed, NOW)
    assert refused.value.reason == "alg_not_allowed"


def test_refetch_is_rate_limited_per_interval() -> None:
    fetches: list[float] = []
    clock = [1000.0]

    def fetch() -> dict[str, Any]:
        fetches.append(clock[0])
        return {"keys": [RSA.as_dict(private=False)]}

    keys = JwksCache(fetch, min_refetch_seconds=60, clock=lambda: clock[0])
    unknown = sign(RSA2, {"alg": "RS256", "kid": "r2"}, claims())
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            validate_id_token(unknown, keys, EXPECTED, NOW)
    assert fetches == [1000.0, 1000.0]  # the first fetch and one refetch
    clock[0] += 61
    with pytest.raises(LoginRefusedError):
        validate_id_token(unknown, keys, EXPECTED, NOW)
    assert len(fetches) == 3


def test_real_time_default() -> None:
    now = time.time()
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims(iat=int(now), exp=int(now) + 60))
    assert validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED)["sub"] == "u1"


@pytest.mark.parametrize(
    ("header", "extra", "reason"),
    [
        ({"typ": "logout+jwt"}, {}, "typ_mismatch"),  # a back-channel logout token is never an ID token
        ({"typ": "at+jwt"}, {}, "typ_mismatch"),  # nor is an access token
        ({}, {"events": {LOGOUT_EVENT: {}}}, "not_an_id_token"),  # an untyped security event token
    ],
)
def test_other_kinds_of_token_do_not_pass_as_id_tokens(
    header: dict[str, Any], extra: dict[str, Any], reason: str
) -> None:
    token = sign(RSA, {"alg": "RS256", "kid": "r1", **header}, claims(**extra))
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED, NOW)
    assert refused.value.reason == reason


def test_typ_jwt_is_an_id_token() -> None:
    token = sign(RSA, {"alg": "RS256", "kid": "r1", "typ": "JWT"}, claims())
    assert validate_id_token(token, cache(RSA.as_dict(private=False)), EXPECTED, NOW)["sub"] == "u1"


@pytest.mark.parametrize(("nonce", "accepted"), [(None, True), ("nonce-1", True), ("nonce-2", False)])
def test_a_refreshed_id_token_carries_no_nonce_or_the_original_one(nonce: str | None, accepted: bool) -> None:
    """OpenID Connect Core 1.0 §12.2."""
    refreshed = Expected("https://idp.test", "client", None, original_nonce_hash=nonce_hash("nonce-1"))
    token = sign(RSA, {"alg": "RS256", "kid": "r1"}, claims(nonce=nonce))
    if accepted:
        assert validate_id_token(token, cache(RSA.as_dict(private=False)), refreshed, NOW)["sub"] == "u1"
        return
    with pytest.raises(LoginRefusedError) as refused:
        validate_id_token(token, cache(RSA.as_dict(private=False)), refreshed, NOW)
    assert refused.value.reason == "nonce_mismatch"
