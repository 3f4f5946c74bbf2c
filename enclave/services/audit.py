"""The tenant's audit log as its readers use it: query events (the query itself is audited) and export
(audited first, then streamed); the public key auditors verify with; retention (prune, leaving a signed
anchor). Proofs and the signing key's acts are in `proofs` (audit_proofs.py), the sync into the customer's
bucket in `sync` (audit_sync.py)."""

from __future__ import annotations

from datetime import datetime

from audit.checkpoints import Checkpoint
from audit.events import AuditEvent, StoredRecord
from audit.store.reader import EventFilter, query_events
from audit.store.retention import prune
from auth.roles import Permission
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.audit_export import ExportFormat, PreparedExport, prepare_export
from enclave.services.audit_proofs import AuditProofs, require_operator
from enclave.services.audit_sync import AuditSync
from storage_connector.service import StorageService


class AuditLogService:
    def __init__(self, runtime: Runtime, storage: StorageService) -> None:
        self._runtime = runtime
        self.proofs = AuditProofs(runtime)
        self.sync = AuditSync(runtime, storage)

    def query(self, access: Access, where: EventFilter, *, after_seq: int = 0, limit: int = 100) -> list[StoredRecord]:
        """Events in chain order after `after_seq` (`audit.read`); the query is recorded first."""
        access.require(Permission.AUDIT_READ)
        self._runtime.appender.append(
            AuditEvent(
                tenant=access.tenant,
                actor=access.actor,
                action="audit.queried",
                request_id=access.request_id,
                details={
                    "action": where.action,
                    "actor": where.actor,
                    "outcome": where.outcome.value if where.outcome else None,
                },
            )
        )
        with self._runtime.sessions() as session:
            return query_events(session, access.tenant, where, after_seq=after_seq, limit=limit)

    def export(
        self, access: Access, *, since: datetime | None, until: datetime | None, export_format: ExportFormat
    ) -> PreparedExport:
        """An export of the tenant's log (`audit.export`), audited before a byte is written."""
        access.require(Permission.AUDIT_EXPORT)
        return prepare_export(
            self._runtime,
            access.actor,
            access.tenant,
            since=since,
            until=until,
            export_format=export_format,
            request_id=access.request_id,
        )

    def prune(self, access: Access, before: datetime) -> Checkpoint | None:
        """Remove the records older than `before` under the retention policy, leaving a signed anchor so
        later exports still verify; recorded as `audit.pruned` in the same transaction. None: nothing older."""
        require_operator(access, "retention")
        with transaction(self._runtime.sessions) as session:
            anchor = prune(session, self._runtime.audit, access.tenant, before)
            if anchor is not None:
                self._runtime.audit.append(
                    session,
                    AuditEvent(
                        tenant=access.tenant,
                        actor=access.actor,
                        action="audit.pruned",
                        target=f"tenant:{access.tenant}",
                        details={
                            "before": before.isoformat(),
                            "anchor_seq": anchor.seq,
                            "pruned_total": anchor.pruned_count,
                        },
                    ),
                )
        return anchor

    @property
    def public_key_pem(self) -> str:
        return self._runtime.public_key_pem

    @property
    def key_id(self) -> str:
        return self._runtime.key_id
