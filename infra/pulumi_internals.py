"""The one place the offline run touches Pulumi's private internals.

Pulumi has no public API to run a program in-process to completion or to read an Output's value outside a
program: `pulumi.runtime.test` does both, but only as a decorator around a test function. The offline preview
and the tests need both, so they use `_sync_await` (run a coroutine on Pulumi's event loop) and reset the
per-run state in `SETTINGS` (`rpc_manager`, `outputs`). These are private and may change in any release:
tests/infra/test_pulumi_internals.py pins the version they were checked against, so an upgrade fails there
first, with the reason, instead of somewhere deep in a preview.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

CHECKED_PULUMI_VERSION = "3.272.0"  # the pulumi SDK these internals were read from (requirements.lock)

T = TypeVar("T")


def run_on_pulumi_loop(awaitable: Awaitable[T], *, fresh_run: bool = False) -> T:
    """Wait for `awaitable` on Pulumi's event loop (blocking). `fresh_run` first drops the previous program's
    pending RPCs and stack outputs, as a new `pulumi preview` process would start without them."""
    if fresh_run:
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
    ensure_current_loop()
    return _sync_await(awaitable)


def ensure_current_loop() -> None:
    """Give this thread an event loop when it has none (call it before `pulumi.runtime.set_mocks`, which
    registers the root stack at once). Pulumi creates its futures with the thread's current loop; on Python
    3.11 `asyncio.run()` (anyone's: a test client, a library) ends by clearing it, after which
    `asyncio.get_event_loop()` raises instead of making one, and every later program would fail."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def release_threads() -> None:
    """End the threads a finished run leaves behind, so the process can fork safely. Pulumi runs blocking work
    through the event loop's default executor, whose idle threads outlive the run; a forked child would inherit
    the executor without its threads and wait forever for the first job it submits. The loop is closed and
    replaced by a fresh one (`ensure_current_loop` would make one too), which the next run uses."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if not loop.is_closed():
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_program_to_completion(program: Callable[[], None]) -> None:
    """Run a Pulumi program with fresh per-run state until every resource it registered has resolved."""
    run_on_pulumi_loop(run_pulumi_func(program), fresh_run=True)
