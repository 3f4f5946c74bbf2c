"""One signer per grant, opened through its backend's registration (storage_connector/backends.py), so that
credential caches (AssumeRole sessions, user delegation keys) live across requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from audit.events import utc_now
from storage_connector.backends import registration
from storage_connector.grants import Grant
from storage_connector.platform import PlatformCredentials, SignerUnavailableError
from storage_connector.signer import Signer
from storage_connector.spec import GrantSpecBase


class Signers:
    def __init__(self, platform: PlatformCredentials, clock: Callable[[], datetime] = utc_now) -> None:
        self.platform = platform
        self._clock = clock
        self._lock = threading.Lock()
        self._signers: dict[str, Signer] = {}

    def check(self, spec: GrantSpecBase) -> None:
        """SignerUnavailableError when this gateway could never sign for the grant (checked when it is
        connected, so that a grant that can never work is refused up front)."""
        reason = registration(spec.backend).unavailable(self.platform, spec)
        if reason is not None:
            raise SignerUnavailableError(reason)

    def for_grant(self, grant: Grant) -> Signer:
        with self._lock:
            signer = self._signers.get(grant.id)
            if signer is None:
                signer = registration(grant.backend).open_signer(grant, self.platform, self._clock)
                self._signers[grant.id] = signer
            return signer
