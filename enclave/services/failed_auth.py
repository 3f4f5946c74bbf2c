"""Failed authentication, rate-limited and audited without letting an attacker flood the audit log.

Every refusal takes a token from two buckets in the cache (Redis across replicas): one for what was
presented (`apikey:<id>`, `operator`) and one for the client address. While both have tokens, the refusal
is audited as itself (in the key's tenant, within that tenant's refusal budget: enclave/services/refusals.py)
and answered 401. Past either limit it is answered 429 with
`Retry-After`, and only one summarising `auth.failures.throttled` record is written per subject and
window. A client address with no tokens left is refused before any credential is looked at."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import NoReturn

from audit.events import AuditEvent, Outcome
from audit.store.group_commit import GroupCommitAppender
from auth.authn import AuthenticationError
from enclave.cache import Cache, RateLimit, retry_after_seconds
from enclave.services.refusals import RefusalRecorder
from tenancy.errors import RateLimitedError

logger = logging.getLogger("enclave.gateway")
RATE_LIMITED_ACTION = "auth.failures.throttled"
RATE_LIMITED_MESSAGE = "too many failed authentication attempts; try again later"


@dataclass(frozen=True)
class FailedAuthLimiter:
    cache: Cache
    appender: GroupCommitAppender
    refusals: RefusalRecorder  # bounds what one tenant's log records of them
    per_subject: RateLimit
    per_client: RateLimit

    def check_client(self, ip: str | None) -> None:
        """RateLimitedError when this client address has no failures left to spend."""
        wait = self.cache.take(self._client_key(ip), self.per_client, cost=0)
        if wait > 0:
            raise RateLimitedError(RATE_LIMITED_MESSAGE, retry_after=retry_after_seconds(wait))

    def refuse(
        self, refused: AuthenticationError, *, ip: str | None, request_id: str | None, tenant: str | None
    ) -> NoReturn:
        """Spend the failure, audit it (or the window's summary) and raise what the client gets.
        `tenant` is where refusals of credentials that belong to no tenant are recorded."""
        wait = max(
            self.cache.take(f"authfail:subject:{refused.subject}", self.per_subject),
            self.cache.take(self._client_key(ip), self.per_client),
        )
        if wait == 0:
            event = refused.audit_event(ip=ip, request_id=request_id, tenant=tenant)
            if event is not None:
                self.refusals.record(event)  # no record, no answer: AuditWriteError becomes 503
            else:
                logger.warning("authentication refused; no tenant to audit it in")
            raise refused
        self._summarise(refused, ip=ip, request_id=request_id, tenant=refused.tenant or tenant)
        raise RateLimitedError(RATE_LIMITED_MESSAGE, retry_after=retry_after_seconds(wait))

    def _summarise(
        self, refused: AuthenticationError, *, ip: str | None, request_id: str | None, tenant: str | None
    ) -> None:
        window = self.per_subject.per_seconds
        index = math.floor(time.time() / window)
        if tenant is None or not self.cache.add(
            f"authfail:summary:{refused.subject}:{index}", b"1", math.ceil(window) + 1
        ):
            return
        self.appender.append(
            AuditEvent(
                tenant=tenant,
                actor=refused.actor(ip),
                action=RATE_LIMITED_ACTION,
                outcome=Outcome.DENIED,
                target=refused.subject,
                reason="failed-authentication rate limit reached",
                request_id=request_id,
                details={
                    "limit": self.per_subject.capacity,
                    "window_seconds": math.ceil(window),
                    "note": "further failures in this window are refused with 429 and not recorded one by one",
                },
            )
        )

    @staticmethod
    def _client_key(ip: str | None) -> str:
        return f"authfail:client:{ip or 'unknown'}"
