"""Strict ID-token validation (OpenID Connect Core 3.1.3.7), done here rather than left to a library default.

joserfc (Authlib's JOSE layer) checks the signature with the one key and algorithm we hand it; everything
else is ours: the algorithm allow-list (never `none`, never HS*), no `crit` extensions, the key chosen from
the provider's JWKS by `kid` (a token bringing its own key is refused), the exact issuer, the audience and `azp`,
`exp` / `iat` / `nbf` with a small leeway, the nonce, and a subject."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from auth.sso.config import PUBLIC_KEY_ALGORITHMS
from auth.sso.errors import LoginRefusedError
from auth.sso.jwks import JwksCache

LEEWAY_SECONDS = 60
MAX_TOKEN_AGE_SECONDS = 600  # an ID token issued longer ago than this was not issued for this login
MAX_TOKEN_BYTES = 16_384
EMBEDDED_KEY_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c"})  # keys come from the provider's JWKS only
_REGISTRY = jws.JWSRegistry(algorithms=list(PUBLIC_KEY_ALGORITHMS), strict_check_header=False)


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


@dataclass(frozen=True)
class Expected:
    """What an ID token must say. `issuer` may depend on the claims (Microsoft's multi-tenant endpoints: one
    issuer per Entra tenant). At sign-in `nonce` is this login's; for an ID token from a refresh (OpenID
    Connect Core 1.0 §12.2, https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse)
    `nonce` is None: the token carries none, or the original login's, whose hash is `original_nonce_hash`."""

    issuer: str | Callable[[dict[str, Any]], str]
    client_id: str
    nonce: str | None
    algorithms: tuple[str, ...] = PUBLIC_KEY_ALGORITHMS
    original_nonce_hash: str | None = None


def _b64json(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        raise LoginRefusedError("malformed_token", f"the ID token's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise LoginRefusedError("malformed_token", f"the ID token's {what} is not a JSON object")
    return value


def number_claim(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LoginRefusedError(f"{name}_invalid", f"the token's `{name}` is missing or not a number")
    return float(value)


def read_header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise LoginRefusedError("malformed_token", "the token is not a compact JWS")
    return _b64json(token.split(".", 1)[0], "header")


def read_unverified_claims(token: str) -> dict[str, Any]:
    """The payload, read only to choose whose keys verify the token: nothing in it is trusted before that."""
    read_header(token)
    return _b64json(token.split(".")[1], "payload")


ID_TOKEN_TYPES = ("jwt",)  # an ID token's `typ`, when present (RFC 7519 §5.1); never `logout+jwt`, `at+jwt`, ...


def verify_signature(
    token: str, keys: JwksCache, algorithms: tuple[str, ...], allowed_types: tuple[str, ...] = ID_TOKEN_TYPES
) -> dict[str, Any]:
    """The token's claims once its signature checks out with a provider key; nothing is read before that."""
    header = read_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in PUBLIC_KEY_ALGORITHMS:
        raise LoginRefusedError("alg_not_allowed", f"the ID token's algorithm {str(alg)[:20]!r} is not allowed")
    if not EMBEDDED_KEY_HEADERS.isdisjoint(header):
        raise LoginRefusedError("embedded_key_refused", "the ID token brings its own key (jwk/jku/x5u/x5c); refused")
    if "crit" in header:
        raise LoginRefusedError("crit_unsupported", "the ID token requires header extensions (`crit`) we do not know")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower().removeprefix("application/") not in allowed_types):
        raise LoginRefusedError(
            "typ_mismatch", f"the token's type {str(typ)[:30]!r} is not {' or '.join(allowed_types)}"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise LoginRefusedError("malformed_token", "the ID token's `kid` is not a string")
    key = keys.key_for(kid, alg)
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[alg], registry=_REGISTRY)
    except BadSignatureError:
        raise LoginRefusedError("bad_signature", "the ID token's signature does not verify") from None
    except JoseError as exc:
        raise LoginRefusedError("malformed_token", f"the ID token is not a valid JWS ({exc.error})") from None
    try:
        claims = json.loads(verified.payload)
    except ValueError:
        raise LoginRefusedError("malformed_token", "the ID token's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise LoginRefusedError("malformed_token", "the ID token's payload is not a JSON object")
    return claims


def check_claims(claims: dict[str, Any], expected: Expected, now: float) -> None:
    issuer = expected.issuer(claims) if callable(expected.issuer) else expected.issuer
    if claims.get("iss") != issuer:
        raise LoginRefusedError("issuer_mismatch", "the ID token was issued by another issuer than the provider's")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or expected.client_id not in audiences:
        raise LoginRefusedError("audience_mismatch", "the ID token is not meant for this gateway (audience)")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.client_id:
        raise LoginRefusedError("azp_mismatch", "the ID token was issued to another party (azp)")
    check_times(claims, now, "ID token", exp_required=True)
    if "nbf" in claims and number_claim(claims, "nbf") > now + LEEWAY_SECONDS:
        raise LoginRefusedError("not_yet_valid", "the ID token is not valid yet (nbf)")
    _check_nonce(claims.get("nonce"), expected)
    if "events" in claims:  # a Security Event Token, e.g. a back-channel logout token, is never an ID token
        raise LoginRefusedError("not_an_id_token", "the token is a security event token, not an ID token")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise LoginRefusedError("sub_invalid", "the ID token has no valid subject (sub)")


def check_times(claims: dict[str, Any], now: float, what: str, *, exp_required: bool) -> float:
    """`exp` not passed (when required or present), `iat` neither in the future nor older than ten minutes,
    each with the leeway; the token's `iat`."""
    if (exp_required or "exp" in claims) and now > number_claim(claims, "exp") + LEEWAY_SECONDS:
        raise LoginRefusedError("expired", f"the {what} has expired")
    issued = number_claim(claims, "iat")
    if issued > now + LEEWAY_SECONDS:
        raise LoginRefusedError("iat_in_future", f"the {what} claims to be issued in the future")
    if issued < now - MAX_TOKEN_AGE_SECONDS:
        raise LoginRefusedError("iat_too_old", f"the {what} was issued too long ago")
    return issued


def _check_nonce(nonce: Any, expected: Expected) -> None:
    if expected.nonce is not None:
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expected.nonce.encode()):
            raise LoginRefusedError("nonce_mismatch", "the ID token's nonce does not match this sign-in")
        return
    if nonce is None:
        return
    original = expected.original_nonce_hash
    if not isinstance(nonce, str) or original is None or not hmac.compare_digest(nonce_hash(nonce), original):
        raise LoginRefusedError("nonce_mismatch", "the refreshed ID token's nonce is not the original sign-in's")


def validate_id_token(token: str, keys: JwksCache, expected: Expected, now: float | None = None) -> dict[str, Any]:
    """The claims of a fully validated ID token, or LoginRefusedError naming the first check that failed."""
    claims = verify_signature(token, keys, expected.algorithms)
    check_claims(claims, expected, time.time() if now is None else now)
    return claims
