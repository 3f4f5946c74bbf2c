"""The provider clients a gateway keeps: one per configured provider, built from its configuration row and
reused (with its discovery document and JWKS cache) while that configuration stays the same.

Sign-in, re-validation during a session and back-channel logout all ask providers through one of these. A
provider named by plain-http URLs is refused here unless the deployment allows loopback development
providers (`allow_insecure_loopback`, off by default)."""

from __future__ import annotations

import hashlib
import json
import threading

import httpx

from auth.sso.errors import LoginRefusedError
from auth.sso.http import new_http_client
from auth.sso.models import IdentityProviderRow
from auth.sso.providers import IdentityProvider, build_provider
from auth.sso.registry import config_of


class ProviderClients:
    def __init__(self, http: httpx.Client | None = None, *, allow_insecure_loopback: bool = False) -> None:
        self._http = http  # made on first use: a store built per request never opens a connection pool
        self.allow_insecure_loopback = allow_insecure_loopback
        self._providers: dict[str, tuple[str, IdentityProvider]] = {}
        self._lock = threading.Lock()

    def get(self, row: IdentityProviderRow) -> IdentityProvider:
        """The client for a configuration row; LoginRefusedError when the row names a plain-http provider this
        deployment does not allow."""
        config = config_of(row)
        try:
            config.check_transport(allow_insecure_loopback=self.allow_insecure_loopback)
        except ValueError as exc:
            raise LoginRefusedError("insecure_provider", str(exc)) from None
        fingerprint = hashlib.sha256(
            json.dumps([row.kind, row.issuer, row.client_id, row.client_secret, row.options], sort_keys=True).encode()
        ).hexdigest()
        with self._lock:
            known = self._providers.get(row.id)
            if known is None or known[0] != fingerprint:
                if self._http is None:
                    self._http = new_http_client()
                provider = build_provider(
                    row.id, config, self._http, allow_insecure_loopback=self.allow_insecure_loopback
                )
                known = (fingerprint, provider)
                self._providers[row.id] = known
            return known[1]
