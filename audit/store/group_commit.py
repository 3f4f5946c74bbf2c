"""Group commit: many concurrent appends share one transaction and one durable commit.

Callers hand an event to `GroupCommitAppender.submit` and wait on the returned receipt, which resolves only
after the record is committed (durable) — or fails, in which case the caller must not perform its act.
A single writer thread drains the queue into batches of up to `max_batch` events, waiting at most
`max_wait` for a batch to fill once the first event arrived.

Waiting is shared: every receipt waits on one condition that the writer notifies once per committed batch.
A `concurrent.futures.Future` per event (a lock and a condition each, acquired on both sides) cost about as
much CPU as chaining the event, in a writer bound by one GIL (docs/benchmarks.md).
"""

from __future__ import annotations

import queue
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from audit.events import AuditEvent, ChainedRecord
from audit.store.log import AuditLog, AuditWriteError


class _Stop:
    """Queued by `close`: the writer finishes what came before it, then exits."""


_STOP = _Stop()


class AppendReceipt:
    """One submitted event: `result` waits until its record is durable, or raises why it is not."""

    __slots__ = ("_done", "_error", "_record", "event")

    def __init__(self, event: AuditEvent, done: threading.Condition) -> None:
        self.event = event
        self._done = done
        self._record: ChainedRecord | None = None
        self._error: BaseException | None = None

    def _settled(self) -> bool:
        return self._record is not None or self._error is not None

    def result(self, timeout: float | None = None) -> ChainedRecord:
        """The committed record. Raises the write's error (AuditWriteError), or TimeoutError after `timeout`."""
        if not self._settled():
            with self._done:
                if not self._done.wait_for(self._settled, timeout):
                    raise TimeoutError("the audit record was not committed in time")
        if self._error is not None:
            raise self._error
        assert self._record is not None
        return self._record


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
        self._queue: queue.SimpleQueue[AppendReceipt | _Stop] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
        self._thread.start()

    def submit(self, event: AuditEvent) -> AppendReceipt:
        receipt = AppendReceipt(event, self._done)
        if self._closed:
            receipt._error = AppenderClosedError("the audit appender is closed")
            return receipt
        self._queue.put(receipt)
        return receipt

    def append(self, event: AuditEvent, timeout: float = 30.0) -> ChainedRecord:
        """Submit and wait until the record is durable."""
        return self.submit(event).result(timeout=timeout)

    def close(self) -> None:
        """Finish what is queued, then stop."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def _next_batch(self) -> tuple[list[AppendReceipt], bool]:
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

    def _write(self, batch: list[AppendReceipt]) -> None:
        events = [receipt.event for receipt in batch]
        try:
            with self._sessions() as session, session.begin():
                records = self._log.append_many(session, events)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, AuditWriteError)
                else AuditWriteError(f"audit commit failed ({type(exc).__name__})")
            )
            for receipt in batch:
                receipt._error = error
        else:
            for receipt, record in zip(batch, records, strict=True):
                receipt._record = record
        with self._done:
            self._done.notify_all()
