"""The background access probe, for every store alike: each interval, each active grant's signer checks
with the platform's own credentials that access still works. Access denied means customer IT revoked it in
their cloud: the grant is marked `revoked-by-customer` (audited, fanned out) and issuance stops. Access
coming back changes nothing by itself: a tenant admin restores the grant explicitly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from opentelemetry import metrics
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from audit.events import SYSTEM_ACTOR
from audit.store.log import AuditLog
from storage_connector.factory import Signers
from storage_connector.grants import Grant, GrantStatus, mark_revoked_by_customer, record_probe
from storage_connector.models import StorageGrantRow
from storage_connector.revocation import GrantStates
from storage_connector.signer import ProbeResult, ProbeStatus

logger = logging.getLogger(__name__)
meter = metrics.get_meter("enclave.storage")
PROBES = meter.create_counter("enclave.storage.probes", description="grant access probes by backend and result")
DETECTED = meter.create_counter(
    "enclave.storage.revocations_detected", description="grants found revoked in the customer's cloud"
)


class GrantProber:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        states: GrantStates,
        signers: Signers,
        interval_seconds: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._states = states
        self._signers = signers
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _active_grants(self) -> list[Grant]:
        with self._sessions() as session:
            rows = session.scalars(select(StorageGrantRow).where(StorageGrantRow.status == GrantStatus.ACTIVE.value))
            return [Grant.from_row(row) for row in rows]

    def probe(self, grant: Grant) -> ProbeResult:
        try:
            return self._signers.for_grant(grant).probe()
        except Exception as exc:  # a probe that cannot run concludes nothing
            return ProbeResult(ProbeStatus.ERROR, f"probe could not run: {type(exc).__name__}")

    def run_once(self) -> dict[str, ProbeResult]:
        """Probe every active grant once; returns the results by grant id."""
        results: dict[str, ProbeResult] = {}
        for grant in self._active_grants():
            result = results[grant.id] = self.probe(grant)
            PROBES.add(1, {"backend": grant.backend.value, "result": result.status.value})
            with self._sessions() as session, session.begin():
                record_probe(session, grant.id, result.status.value, result.detail)
                changed = (
                    mark_revoked_by_customer(session, self._audit, SYSTEM_ACTOR, grant, result.detail)
                    if result.status is ProbeStatus.DENIED
                    else []
                )
            if changed:
                DETECTED.add(1, {"backend": grant.backend.value})
                logger.warning(
                    "grant %s of tenant %s revoked by the customer: %s", grant.id, grant.tenant, result.detail
                )
                self._states.publish(changed)
        return results

    def _loop(self, on_error: Callable[[Exception], None]) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.run_once()
            except Exception as exc:
                on_error(exc)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop,
                args=(lambda e: logger.exception("grant probe round failed", exc_info=e),),
                name="enclave-storage-probe",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
