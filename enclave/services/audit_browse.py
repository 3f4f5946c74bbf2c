"""Reading the tenant's audit log newest first, as the console shows it: keyset pages on the chain position
(`seq < before`, never OFFSET, so the millionth record costs what the first does), and the recent signed-URL
batches from the storage records.

The records are indexed by chain position and time only, so a filter on actor, action or outcome is answered
by walking back along the chain; a rare actor would make that walk the whole log (seconds at a million
records). So a filtered page searches at most SCAN_WINDOW records and, when it found fewer than a page there,
says where it stopped: the reader continues further back with the next page (still keyset on seq)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from audit.events import AuditEvent
from audit.store.reader import EventFilter
from audit.store.tables import audit_records
from auth.roles import Permission
from enclave.runtime import Runtime
from enclave.services.access import Access

URL_BATCHES_ACTION = "storage.urls.issued"
SCAN_WINDOW = 50_000  # records one filtered page walks through at most


@dataclass(frozen=True)
class BrowsedRecord:
    seq: int
    record: dict[str, Any]  # the record's canonical body, decoded


@dataclass(frozen=True)
class AuditPage:
    """Records newest first; `next_before` continues with older ones (None: the oldest is shown).
    `searched_down_to` is set when a filtered page stopped at the edge of its search window (records older
    than it were not searched yet) rather than because it was full."""

    records: list[BrowsedRecord]
    next_before: int | None
    searched_down_to: int | None = None


class AuditBrowser:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def page(self, access: Access, where: EventFilter, *, before: int | None = None, limit: int = 50) -> AuditPage:
        """Records matching `where` older than `before` (`audit.read`), newest first; the query is recorded
        first, as the API's is (`audit.queried`)."""
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
                    "view": "console",
                },
            )
        )
        return self._newest(access.tenant, where, before, limit)

    def url_batches(self, access: Access, limit: int = 20) -> list[BrowsedRecord]:
        """The tenant's most recent signed-URL batches (`storage.revoke`: the storage page's readers): who, how
        many, which operations. The records never held a URL or a signature."""
        access.require(Permission.STORAGE_REVOKE)
        return self._newest(access.tenant, EventFilter(action=URL_BATCHES_ACTION), None, limit).records

    def _newest(self, tenant: str, where: EventFilter, before: int | None, limit: int) -> AuditPage:
        r = audit_records.c
        query = select(r.seq, r.body).where(r.tenant_id == tenant)
        floor = 0  # the search covers records after this one
        with self._runtime.sessions() as session:
            if where.actor is not None or where.action is not None or where.outcome is not None:
                last: int | None = session.execute(_last_seq(tenant)).scalar()
                top = before if before is not None else (last or 0) + 1
                floor = max(0, top - 1 - SCAN_WINDOW)
                query = query.where(r.seq > floor)
            rows = self._rows(session, query, where, before, limit)
        records = [BrowsedRecord(row[0], orjson.loads(bytes(row[1]))) for row in rows[:limit]]
        if len(rows) > limit:
            return AuditPage(records, records[-1].seq)
        if floor > 0:
            return AuditPage(records, floor + 1, searched_down_to=floor + 1)
        return AuditPage(records, None)

    @staticmethod
    def _rows(session: Session, query: Select[Any], where: EventFilter, before: int | None, limit: int) -> list[Any]:
        r = audit_records.c
        if before is not None:
            query = query.where(r.seq < before)
        if where.since is not None:
            query = query.where(r.time >= where.since)
        if where.until is not None:
            query = query.where(r.time < where.until)
        if where.actor is not None:
            query = query.where(r.actor_id == where.actor)
        if where.action is not None:
            query = query.where(r.action == where.action)
        if where.outcome is not None:
            query = query.where(r.outcome == where.outcome.value)
        return list(session.execute(query.order_by(r.seq.desc()).limit(limit + 1)).all())


def _last_seq(tenant: str) -> Select[Any]:
    r = audit_records.c
    return select(func.max(r.seq)).where(r.tenant_id == tenant)
