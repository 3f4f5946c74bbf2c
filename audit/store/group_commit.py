"""Group commit: many concurrent appends share one transaction and one durable commit.

Callers hand an event to `GroupCommitAppender.submit` and wait on the returned future, which resolves only
after the record is committed (durable) — or fails, in which case the caller must not perform its act.
A single writer thread drains the queue into batches of up to `max_batch` events, waiting at most
`max_wait` for a batch to fill once the first event arrived.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.orm import Session, sessionmaker

from audit.events import AuditEvent, ChainedRecord
from audit.store.log import AuditLog, AuditWriteError


class _Stop:
    """Queued by `close`: the writer finishes what came before it, then exits."""


_STOP = _Stop()
_Item = tuple[AuditEvent, "Future[ChainedRecord]"]


class AppenderClosedError(AuditWriteError):
    """The appender was shut down; no record was written."""


class GroupCommitAppender:
    def __init__(
        self,
        log: AuditLog,
        sessions: sessionmaker[Session],
        *,
        max_batch: int = 2000,
        max_wait_ms: float = 2.0,
    ) -> None:
        self._log = log
        self._sessions = sessions
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: queue.SimpleQueue[_Item | _Stop] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
        self._thread.start()

    def submit(self, event: AuditEvent) -> Future[ChainedRecord]:
        future: Future[ChainedRecord] = Future()
        if self._closed:
            future.set_exception(AppenderClosedError("the audit appender is closed"))
            return future
        self._queue.put((event, future))
        return future

    def append(self, event: AuditEvent, timeout: float = 30.0) -> ChainedRecord:
        """Submit and wait until the record is durable."""
        return self.submit(event).result(timeout=timeout)

    def close(self) -> None:
        """Finish what is queued, then stop."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def _next_batch(self) -> tuple[list[_Item], bool]:
        """Up to max_batch queued items, waiting at most max_wait after the first; and whether to stop."""
        first = self._queue.get()
        if isinstance(first, _Stop):
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._max_wait
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Stop):
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        events = [event for event, _ in batch]
        try:
            with self._sessions() as session, session.begin():
                records = self._log.append_many(session, events)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, AuditWriteError)
                else AuditWriteError(f"audit commit failed ({type(exc).__name__})")
            )
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), record in zip(batch, records, strict=True):
            future.set_result(record)
