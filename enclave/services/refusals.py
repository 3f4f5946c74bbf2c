"""Refusals are recorded without letting anyone flood a tenant's audit log with them.

Every refusal a tenant's log would record (refused credentials, a valid key asking for what its role may not
do, a request against a revoked grant) takes a token from that tenant's bucket (in the cache: across
replicas). While the bucket has tokens the refusal is recorded as itself. Past it, it is only counted — by
action and by client address — and once the window has closed, one `audit.refusals.summarised` record says
how many there were, of which kinds, and from which addresses (the top ten). A thousand addresses, or one
low-privilege key refused a thousand times, write a bounded number of records, and none is lost from view."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from audit.events import Actor, ActorKind, AuditEvent, Outcome
from audit.store.group_commit import GroupCommitAppender
from enclave.cache import Cache, RateLimit

logger = logging.getLogger("enclave.gateway")
SUMMARY_ACTION = "audit.refusals.summarised"
TOP_ADDRESSES = 10
_ACTION = "action:"
_ADDRESS = "ip:"
_SUMMARISER = Actor(ActorKind.SYSTEM, "refusal-limiter")


@dataclass
class RefusalRecorder:
    cache: Cache
    appender: GroupCommitAppender
    per_tenant: RateLimit  # records a tenant's refusals may write per window before they are only counted
    clock: Callable[[], float] = time.time

    @property
    def window_seconds(self) -> int:
        return max(1, math.ceil(self.per_tenant.per_seconds))

    def _window(self, moment: float | None = None) -> int:
        return math.floor((self.clock() if moment is None else moment) / self.window_seconds)

    def record(self, event: AuditEvent) -> None:
        """Record the refusal `event` in its tenant's log, or count it for the window's summary. Raises what
        the appender raises (the caller decides whether a refusal stands without its record)."""
        if self.cache.take(f"refusals:tenant:{event.tenant}", self.per_tenant) == 0:
            self.appender.append(event)
            return
        window = self._window()
        ttl = 3 * self.window_seconds + 60
        key = f"refusals:counts:{event.tenant}:{window}"
        self.cache.increment(key, _ACTION + event.action, ttl)
        self.cache.increment(key, _ADDRESS + (event.actor.ip or "unknown"), ttl)
        self.cache.increment(f"refusals:pending:{window}", event.tenant, ttl)

    def summarise_closed_windows(self) -> int:
        """Write the summary of every closed window that has one due (once across replicas); how many."""
        current = self._window()
        written = 0
        for window in (current - 2, current - 1):
            for tenant in self.cache.counters(f"refusals:pending:{window}"):
                if not self.cache.add(f"refusals:summarised:{tenant}:{window}", b"1", 3 * self.window_seconds + 60):
                    continue  # another replica wrote it
                counts = self.cache.counters(f"refusals:counts:{tenant}:{window}")
                self.appender.append(self._summary(tenant, window, counts))
                written += 1
        return written

    def _summary(self, tenant: str, window: int, counts: dict[str, int]) -> AuditEvent:
        actions = {k.removeprefix(_ACTION): v for k, v in counts.items() if k.startswith(_ACTION)}
        addresses = {k.removeprefix(_ADDRESS): v for k, v in counts.items() if k.startswith(_ADDRESS)}
        top = sorted(addresses.items(), key=lambda item: (-item[1], item[0]))[:TOP_ADDRESSES]
        start = window * self.window_seconds
        return AuditEvent(
            tenant=tenant,
            actor=_SUMMARISER,
            action=SUMMARY_ACTION,
            outcome=Outcome.DENIED,
            target=f"tenant:{tenant}",
            reason="refusals past the per-tenant limit were counted, not recorded one by one",
            details={
                "window_start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                "window_seconds": self.window_seconds,
                "limit": self.per_tenant.capacity,
                "refusals_not_recorded": sum(actions.values()),
                # a list, not a mapping keyed by action: a key such as "auth.apikey..." would read as a secret's name
                "by_action": [{"action": action, "count": count} for action, count in sorted(actions.items())],
                "distinct_addresses": len(addresses),
                "top_addresses": [{"ip": ip, "count": count} for ip, count in top],
            },
        )
