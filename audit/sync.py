"""Continuous sync of a tenant's audit log into the customer's own bucket (the layout is in audit.bucket).

Every interval (default 10 minutes) `SyncJob.run_once` syncs each due target: it reads the newest synced head
from the bucket itself (never only from the database), checks that the log in the database extends it (the
root at that size, from the stored tree), writes the new records as append-only segments, then the new
signed tree head with a consistency proof from the previous one. The records written are checked to make the
signed root before the head is written, so a rewritten log never reaches the bucket as a valid history.

A sync that fails (store unreachable or refusing, grant revoked, a log that does not extend the bucket's head)
is recorded on its target (status and readiness show it), audited as `audit.sync.failed` when a failure starts
or its reason changes, and retried with backoff up to the interval; `audit.sync.recovered` follows the next
success. A failed sync never writes a head, so the bucket never shows a partial sync as complete.

The job reaches the bucket only through an ObjectStore the caller provides per (tenant, grant): the storage
connector's GrantObjects, which signs every request with the grant's own signer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.bucket import (
    ObjectStore,
    Prefixed,
    SyncedHead,
    head_key,
    key_entry_key,
    latest_head,
    segment_header,
    segment_key,
)
from audit.canonical import JsonValue, canonical_bytes
from audit.checkpoints import Checkpoint
from audit.events import SYSTEM_ACTOR, Actor, AuditEvent, Outcome, format_time, utc_now
from audit.keys import KeyEntry
from audit.merkle import Frontier, consistency_proof, decompose, leaf_hash, root
from audit.store.log import AuditLog, AuditTamperedError
from audit.store.reader import checkpoint_from_row, signed_head
from audit.store.tables import audit_checkpoints, audit_heads, audit_records, audit_sync_targets
from audit.store.tree import StoredTree, TreeDamagedError
from audit.treeproofs import InvalidStatementError, TreeStart
from tenancy.errors import ConflictError, DomainError, InvalidRequestError, NotFoundError

DEFAULT_INTERVAL = timedelta(minutes=10)  # as W&B syncs audit logs
DEFAULT_PREFIX = "enclave-audit/"
SEGMENT_RECORDS = 20_000  # about 10 MB a segment
LEASE = timedelta(minutes=15)  # an attempt that ran longer than this is taken over
FIRST_RETRY = timedelta(seconds=30)
MAX_REASON = 500
logger = logging.getLogger(__name__)

StoreFactory = Callable[[str, str], ObjectStore]  # (tenant, grant id) -> the grant's objects (raise if unusable)
KeyHistory = Callable[[], list[KeyEntry]]


class SyncError(RuntimeError):
    """Why a sync failed; the message is recorded and shown (it never holds a URL or a secret)."""


class SyncTargetError(InvalidRequestError):
    """A sync target that cannot be enabled as asked."""


class SyncTargetNotFoundError(NotFoundError):
    """No such sync target for the tenant."""


class SyncTargetExistsError(ConflictError):
    """The tenant already syncs to that grant."""


@dataclass(frozen=True)
class SyncStatus:
    tenant: str
    grant_id: str
    prefix: str
    state: str  # ok | behind | failing | never-synced
    synced_size: int
    log_size: int
    synced_at: datetime | None
    failures: int
    failure: str | None
    failed_at: datetime | None
    next_attempt_at: datetime

    def to_json(self) -> dict[str, JsonValue]:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else format_time(moment)

        return {
            "tenant": self.tenant,
            "grant": self.grant_id,
            "prefix": self.prefix,
            "state": self.state,
            "synced_size": self.synced_size,
            "log_size": self.log_size,
            "synced_at": when(self.synced_at),
            "failures": self.failures,
            "failure": self.failure,
            "failed_at": when(self.failed_at),
            "next_attempt_at": when(self.next_attempt_at),
        }


@dataclass(frozen=True)
class SyncOutcome:
    tenant: str
    grant_id: str
    synced: bool  # a new head was written
    size: int  # the bucket's newest synced head after this attempt
    error: str | None = None


def _check_prefix(prefix: str) -> str:
    if not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix or ".." in prefix.split("/"):
        raise SyncTargetError("prefix: relative segments ending in '/', e.g. enclave-audit/")
    if len(prefix) > 200 or not all(c.isalnum() or c in "-_./" for c in prefix):
        raise SyncTargetError("prefix: at most 200 letters, digits and - _ . /")
    return prefix


def enable_sync(
    session: Session, log: AuditLog, actor: Actor, tenant: str, grant_id: str, prefix: str = DEFAULT_PREFIX
) -> SyncStatus:
    """Start syncing `tenant`'s log into the grant (the caller has checked the grant is the tenant's and active).
    Audited as `audit.sync.enabled` in the same transaction."""
    _check_prefix(prefix)
    t = audit_sync_targets.c
    if session.execute(select(t.tenant_id).where(t.tenant_id == tenant, t.grant_id == grant_id)).first():
        raise SyncTargetExistsError(f"tenant {tenant!r} already syncs its audit log to grant {grant_id}")
    now = log.clock()
    session.execute(
        insert(audit_sync_targets).values(
            tenant_id=tenant,
            grant_id=grant_id,
            prefix=prefix,
            enabled_at=now,
            enabled_by=actor.id,
            synced_size=0,
            next_attempt_at=now,
            failures=0,
        )
    )
    log.append(
        session,
        AuditEvent(
            tenant=tenant,
            actor=actor,
            action="audit.sync.enabled",
            target=f"storage-grant:{grant_id}",
            details={"grant": grant_id, "prefix": prefix},
        ),
    )
    return sync_status(session, tenant, now=now)[-1]


def disable_sync(session: Session, log: AuditLog, actor: Actor, tenant: str, grant_id: str) -> None:
    """Stop syncing (what is in the bucket stays: it is the customer's). Audited as `audit.sync.disabled`."""
    t = audit_sync_targets.c
    gone = session.execute(delete(audit_sync_targets).where(t.tenant_id == tenant, t.grant_id == grant_id))
    if not getattr(gone, "rowcount", 0):
        raise SyncTargetNotFoundError(f"tenant {tenant!r} does not sync its audit log to grant {grant_id}")
    log.append(
        session,
        AuditEvent(
            tenant=tenant,
            actor=actor,
            action="audit.sync.disabled",
            target=f"storage-grant:{grant_id}",
            details={"grant": grant_id},
        ),
    )


def sync_status(
    session: Session, tenant: str | None = None, *, now: datetime | None = None, interval: timedelta = DEFAULT_INTERVAL
) -> list[SyncStatus]:
    """Each target's state: `failing` (the last attempt failed), `behind` (records not synced for longer than
    two intervals), `never-synced`, or `ok`."""
    t, h = audit_sync_targets.c, audit_heads.c
    query = select(audit_sync_targets, h.seq).outerjoin(audit_heads, h.tenant_id == t.tenant_id)
    if tenant is not None:
        query = query.where(t.tenant_id == tenant)
    moment = now or utc_now()
    found = []
    for row in session.execute(query.order_by(t.tenant_id, t.grant_id)):
        log_size = row.seq or 0
        if row.failures:
            state = "failing"
        elif row.synced_at is None and log_size > 0:
            state = "never-synced"
        elif log_size > row.synced_size and (row.synced_at or row.enabled_at) < moment - 2 * interval:
            state = "behind"
        else:
            state = "ok"
        found.append(
            SyncStatus(
                row.tenant_id,
                row.grant_id,
                row.prefix,
                state,
                row.synced_size,
                log_size,
                row.synced_at,
                row.failures,
                row.failure,
                row.failed_at,
                row.next_attempt_at,
            )
        )
    return found


def sync_readiness(
    session: Session, *, now: datetime | None = None, interval: timedelta = DEFAULT_INTERVAL
) -> list[str]:
    """Readiness detail: one line per target that is failing or behind (empty: all synced)."""
    problems = []
    for status in sync_status(session, now=now, interval=interval):
        if status.state == "failing":
            problems.append(
                f"audit sync of {status.tenant} to grant {status.grant_id} failing ({status.failures}x): "
                f"{status.failure}"
            )
        elif status.state in ("behind", "never-synced") and status.synced_at is None:
            problems.append(f"audit sync of {status.tenant} to grant {status.grant_id} has not completed yet")
        elif status.state == "behind":
            problems.append(
                f"audit sync of {status.tenant} to grant {status.grant_id} is behind: {status.synced_size} of "
                f"{status.log_size} records synced"
            )
    return problems


class SyncJob:
    """Syncs due targets; `run_once` is what the gateway's background loop calls (every minute is fine: a target
    is due every `interval`, or sooner after a failure)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        log: AuditLog,
        stores: StoreFactory,
        *,
        key_history: KeyHistory = list,
        interval: timedelta = DEFAULT_INTERVAL,
        segment_records: int = SEGMENT_RECORDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.log = log
        self.stores = stores
        self.key_history = key_history
        self.interval = interval
        self.segment_records = segment_records
        self.clock = clock

    def run_once(self) -> list[SyncOutcome]:
        now = self.clock()
        t = audit_sync_targets.c
        with self.sessions() as session:
            due = session.execute(
                select(t.tenant_id, t.grant_id).where(t.next_attempt_at <= now).order_by(t.next_attempt_at)
            ).all()
        return [outcome for tenant, grant_id in due if (outcome := self.sync(tenant, grant_id)) is not None]

    def sync(self, tenant: str, grant_id: str) -> SyncOutcome | None:
        """Sync one target now; None when another process is syncing it (its lease is held)."""
        target = self._claim(tenant, grant_id)
        if target is None:
            return None
        try:
            synced, size = self._sync(tenant, grant_id, target["prefix"], target["synced_size"])
        except Exception as exc:
            reason = _reason(exc)
            logger.warning("audit sync of %s to grant %s failed: %s", tenant, grant_id, reason)
            self._failed(tenant, grant_id, target, reason)
            return SyncOutcome(tenant, grant_id, False, target["synced_size"], reason)
        self._succeeded(tenant, grant_id, target, size)
        return SyncOutcome(tenant, grant_id, synced, size)

    # -- one attempt -------------------------------------------------------------------------------------

    def _sync(self, tenant: str, grant_id: str, prefix: str, synced_size: int) -> tuple[bool, int]:
        store = Prefixed(self.stores(tenant, grant_id), prefix)
        found = latest_head(store)
        previous: Checkpoint | None = None
        if found is not None:
            key, head = found
            previous = head.tree_head
            self.log.verify(previous, f"the synced head {key} in the bucket")
            if head.tenant != tenant or previous.tenant != tenant:
                raise SyncError(f"the bucket's newest synced head {key} is of tenant {previous.tenant}")
        bucket_size = 0 if previous is None else previous.seq
        if synced_size > bucket_size:
            raise SyncError(
                f"the bucket's newest synced head covers {bucket_size} records but {synced_size} were synced: synced "
                "heads were deleted from the bucket"
            )
        with self.sessions() as session:
            current = signed_head(session, tenant)
            if current is None:
                return False, bucket_size
            self.log.verify(current, f"the signed tree head of {tenant}")
            plan = self._plan(session, tenant, previous, current)
        if plan is None:
            return False, bucket_size
        frontier, segments = self._write_segments(store, tenant, plan)
        if frontier.root().hex() != current.root or plan.last_hash != current.head_hash:
            raise AuditTamperedError(
                f"the records of {tenant} up to {current.seq} do not make the tree its signed head signs: the log "
                "was altered outside Enclave; no head was synced"
            )
        for entry in self.key_history():
            store.put(key_entry_key(entry), canonical_bytes(entry.to_json()) + b"\n", "application/json")
        synced = SyncedHead(
            tenant,
            current,
            None if previous is None else (previous.seq, previous.root),
            plan.consistency,
            tuple(segments),
        )
        store.put(head_key(current.seq), synced.to_bytes(), "application/json")
        return True, current.seq

    def _plan(self, session: Session, tenant: str, previous: Checkpoint | None, current: Checkpoint) -> _Plan | None:
        """What to write: records (start, end], checked against the bucket's head first."""
        tree = StoredTree(session.connection(), tenant)
        if previous is not None:
            if current.seq < previous.seq:
                raise AuditTamperedError(
                    f"the audit log of {tenant} has {current.seq} records but {previous.seq} were synced to the "
                    "bucket: records were deleted outside Enclave"
                )
            try:
                held = root(tree, previous.seq).hex()
            except TreeDamagedError as exc:
                raise AuditTamperedError(str(exc)) from None
            if held != previous.root:
                raise AuditTamperedError(
                    f"the audit log of {tenant} in the database does not extend the head synced to the bucket at "
                    f"{previous.seq} records: it was rewritten outside Enclave"
                )
            if current.seq == previous.seq:
                return None
        r = audit_records.c
        first_held = session.execute(select(func.min(r.seq)).where(r.tenant_id == tenant)).scalar() or 1
        start = 0 if previous is None else previous.seq
        anchor = None
        if start + 1 < first_held:
            if previous is not None:
                raise SyncError(f"records {start + 1}..{first_held - 1} were pruned before they were synced")
            anchor = self._anchor(session, tenant, first_held - 1)
            start = first_held - 1
        consistency: tuple[str, ...] = ()
        if previous is not None:
            consistency = tuple(value.hex() for value in consistency_proof(tree, previous.seq, current.seq))
        starts = {}
        for first in range(start + 1, current.seq + 1, self.segment_records):
            if first > 1:
                covering = decompose(0, first - 1)
                subtrees = tree.nodes(covering)
                starts[first] = TreeStart(first - 1, tuple(subtrees[node].hex() for node in covering))
        last_hash = previous.head_hash if previous is not None else (anchor.head_hash if anchor else "")
        return _Plan(start, current.seq, anchor, starts, consistency, last_hash)

    @staticmethod
    def _anchor(session: Session, tenant: str, seq: int) -> Checkpoint:
        c = audit_checkpoints.c
        row = session.execute(
            select(audit_checkpoints).where(c.tenant_id == tenant, c.kind == "anchor", c.seq == seq)
        ).one_or_none()
        if row is None:
            raise SyncError(f"the log of {tenant} starts after record {seq} without a prune anchor")
        return checkpoint_from_row(row)

    def _write_segments(self, store: Prefixed, tenant: str, plan: _Plan) -> tuple[Frontier, list[str]]:
        frontier = Frontier() if plan.start == 0 else plan.starts[plan.start + 1].frontier()
        names: list[str] = []
        for first in range(plan.start + 1, plan.end + 1, self.segment_records):
            last = min(first + self.segment_records - 1, plan.end)
            lines = [segment_header(tenant, first, last)]
            if first == plan.start + 1 and plan.anchor is not None:
                lines.append(canonical_bytes(plan.anchor.to_json()) + b"\n")
            if first > 1:
                lines.append(canonical_bytes(plan.starts[first].to_json()) + b"\n")
            for digest, body in self._records(tenant, first, last):
                lines.append(b'{"body":' + body + b',"hash":"' + digest.encode() + b'","type":"record"}\n')
                frontier.append(leaf_hash(bytes.fromhex(digest)))
                plan.last_hash = digest
            name = segment_key(first, last)
            store.put(name, b"".join(lines), "application/x-ndjson")
            names.append(name)
        return frontier, names

    def _records(self, tenant: str, first: int, last: int) -> Iterator[tuple[str, bytes]]:
        r = audit_records.c
        with self.sessions() as session:
            rows = session.execute(
                select(r.seq, r.hash, r.body)
                .where(r.tenant_id == tenant, r.seq >= first, r.seq <= last)
                .order_by(r.seq)
            ).all()
        if len(rows) != last - first + 1:
            raise AuditTamperedError(f"records {first}..{last} of {tenant} are not all in the log (some were deleted)")
        for _, digest, body in rows:
            yield digest, bytes(body)

    # -- bookkeeping --------------------------------------------------------------------------------------

    def _claim(self, tenant: str, grant_id: str) -> dict[str, Any] | None:
        now = self.clock()
        t = audit_sync_targets.c
        with self.sessions() as session, session.begin():
            claimed = session.execute(
                update(audit_sync_targets)
                .where(
                    t.tenant_id == tenant,
                    t.grant_id == grant_id,
                    (t.attempted_at.is_(None)) | (t.attempted_at < now - LEASE),
                )
                .values(attempted_at=now)
            )
            if not getattr(claimed, "rowcount", 0):
                return None
            row = session.execute(select(audit_sync_targets).where(t.tenant_id == tenant, t.grant_id == grant_id)).one()
            return dict(row._mapping)

    def _succeeded(self, tenant: str, grant_id: str, target: dict[str, Any], size: int) -> None:
        now = self.clock()
        with self.sessions() as session, session.begin():
            _update(
                session, tenant, grant_id, synced_size=size, synced_at=now, failures=0, failure=None, next=self.interval
            )
            if target["failures"]:
                self._record(session, tenant, grant_id, "audit.sync.recovered", Outcome.SUCCESS, None, size, target)

    def _failed(self, tenant: str, grant_id: str, target: dict[str, Any], reason: str) -> None:
        now = self.clock()
        failures = target["failures"] + 1
        delay = min(self.interval, FIRST_RETRY * 2 ** min(failures - 1, 16))
        with self.sessions() as session, session.begin():
            _update(session, tenant, grant_id, failures=failures, failure=reason, failed_at=now, next=delay)
            if target["failures"] == 0 or target["failure"] != reason:  # a new failure, or a new reason
                try:
                    self._record(session, tenant, grant_id, "audit.sync.failed", Outcome.ERROR, reason, None, target)
                except Exception:  # the log itself refuses (tampered): the target still shows the failure
                    logger.exception("could not record the failed audit sync of %s", tenant)

    def _record(
        self,
        session: Session,
        tenant: str,
        grant_id: str,
        action: str,
        outcome: Outcome,
        reason: str | None,
        size: int | None,
        target: dict[str, Any],
    ) -> None:
        details: dict[str, JsonValue] = {"grant": grant_id, "prefix": target["prefix"], "synced_size": size}
        if action == "audit.sync.recovered":
            details["failures"] = target["failures"]
        with session.begin_nested():
            self.log.append(
                session,
                AuditEvent(
                    tenant=tenant,
                    actor=SYSTEM_ACTOR,
                    action=action,
                    outcome=outcome,
                    target=f"storage-grant:{grant_id}",
                    reason=reason,
                    details=details,
                ),
            )


def _update(session: Session, tenant: str, grant_id: str, *, next: timedelta, **values: Any) -> None:
    """End an attempt on the target: release its lease, record what happened, say when it is due next."""
    now = values.get("synced_at") or values["failed_at"]
    t = audit_sync_targets.c
    session.execute(
        update(audit_sync_targets)
        .where(t.tenant_id == tenant, t.grant_id == grant_id)
        .values(attempted_at=None, next_attempt_at=now + next, **values)
    )


@dataclass
class _Plan:
    start: int  # records start+1 .. end are written
    end: int
    anchor: Checkpoint | None  # the history starts after pruned records
    starts: dict[int, TreeStart]  # each segment's tree start, by its first seq
    consistency: tuple[str, ...]
    last_hash: str  # the chain's hash before the first record written, then after the last


def _reason(exc: Exception) -> str:
    """A failure reason for status and the audit record: the exception's own message (ours never carry a URL or
    a secret), or its type for anything unexpected."""
    ours = isinstance(exc, SyncError | AuditTamperedError | InvalidStatementError | DomainError) or type(
        exc
    ).__module__.startswith(("audit.", "storage_connector."))
    reason = (str(exc) if ours else "") or f"unexpected {type(exc).__name__}"
    return reason[:MAX_REASON]
