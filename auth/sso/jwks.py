"""A provider's signing keys, fetched from its JWKS and cached.

Keys come only from the provider's `jwks_uri` (never from a token's `jwk`, `jku`, `x5u` or `x5c` header).
A token naming a key id we do not hold triggers one refetch (a provider rotating its keys), at most one per
`min_refetch_seconds`, so a stream of forged key ids cannot make us hammer the provider. Keys that cannot be
parsed, symmetric keys, and keys not meant for signatures are skipped, not fatal."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key

from auth.sso.errors import LoginRefusedError

logger = logging.getLogger("enclave.sso")
PublicKey = RSAKey | ECKey | OKPKey
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _parse_keys(document: Any) -> dict[str | None, list[PublicKey]]:
    keys: dict[str | None, list[PublicKey]] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise LoginRefusedError("jwks_invalid", "the provider's JWKS has no `keys` list")
    skipped = 0
    for entry in entries:
        key = _parse_key(entry)
        if key is None:
            skipped += 1
            continue
        kid = entry.get("kid")
        keys.setdefault(kid if isinstance(kid, str) else None, []).append(key)
    if skipped:
        logger.warning("skipped unusable JWKS keys", extra={"skipped": skipped, "usable": len(entries) - skipped})
    return keys


def _parse_key(entry: Any) -> PublicKey | None:
    if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
        return None  # symmetric ("oct") or unknown key types are never used to verify provider tokens
    if entry.get("use", "sig") != "sig" or "d" in entry:
        return None  # an encryption key, or a leaked private key we refuse to treat as a public one
    try:
        key = import_key({k: v for k, v in entry.items() if k != "key_ops"})
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return key if isinstance(key, RSAKey | ECKey | OKPKey) else None


def _fits(key: PublicKey, entry_alg: Any, alg: str) -> bool:
    if isinstance(entry_alg, str) and entry_alg != alg:
        return False
    return key.key_type == _KTY_FOR_ALG.get(alg[:2])


class JwksCache:
    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        min_refetch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._keys: dict[str | None, list[PublicKey]] | None = None
        self._refetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        self._keys = _parse_keys(self._fetch())

    def key_for(self, kid: str | None, alg: str) -> PublicKey:
        """The provider key that verifies a token with header `kid` and `alg`, or LoginRefusedError."""
        with self._lock:
            if self._keys is None:
                self._refresh()
            key = self._select(kid, alg)
            if key is None and self._clock() - self._refetched_at >= self._min_refetch:
                self._refetched_at = self._clock()
                self._refresh()  # maybe the provider rotated its keys
                key = self._select(kid, alg)
        if key is None:
            if kid is None:
                raise LoginRefusedError("unknown_kid", "the ID token names no key id and no single key fits it")
            raise LoginRefusedError("unknown_kid", "the ID token is signed with a key the provider does not publish")
        return key

    def _select(self, kid: str | None, alg: str) -> PublicKey | None:
        assert self._keys is not None
        # without a kid a token is acceptable only when exactly one published key fits its algorithm
        everything = [k for group in self._keys.values() for k in group]
        candidates = self._keys.get(kid, []) if kid is not None else everything
        fitting = [k for k in candidates if _fits(k, k.get("alg"), alg)]
        return fitting[0] if len(fitting) == 1 or (kid is not None and fitting) else None
