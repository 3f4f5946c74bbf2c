"""The gateway's background jobs, run for as long as it serves: signing audit checkpoints for quiet tenants,
syncing audit logs into the customers' buckets, summarising the refusals past each tenant's limit, and probing
every active storage grant for a revocation in the customer's cloud."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from audit.store.reader import tenants_with_unsigned_records
from audit.sync import FIRST_RETRY, SyncJob
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.refusals import RefusalRecorder
from storage_connector.probe import GrantProber
from storage_connector.service import StorageService

logger = logging.getLogger("enclave.gateway")


def sign_due_checkpoints(runtime: Runtime) -> int:
    """Sign a checkpoint for every tenant whose unsigned records are older than the interval."""
    signed = 0
    with runtime.sessions() as session:
        tenants = tenants_with_unsigned_records(session)
    for tenant in tenants:
        with transaction(runtime.sessions) as session:
            if runtime.audit.checkpoint_if_due(session, tenant) is not None:
                signed += 1
    return signed


async def _checkpoint_loop(runtime: Runtime) -> None:
    interval = max(runtime.settings.audit_checkpoint_seconds / 2, 0.5)
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(sign_due_checkpoints, runtime)
        except Exception:
            logger.exception("periodic audit checkpoint failed; will retry")


async def _refusal_summaries_loop(refusals: RefusalRecorder) -> None:
    interval = max(refusals.window_seconds / 4, 0.5)
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(refusals.summarise_closed_windows)
        except Exception:
            logger.exception("writing refusal summaries failed; will retry")


async def _audit_sync_loop(job: SyncJob) -> None:
    """Sync every due target. A target is due every interval, or sooner after a failure (retried after 30 s,
    1, 2, 4 ... minutes up to the interval), so the loop looks often enough to keep those retries on time."""
    tick = max(min(job.interval, FIRST_RETRY).total_seconds() / 2, 0.5)
    while True:
        await asyncio.sleep(tick)
        try:
            await asyncio.to_thread(job.run_once)
        except Exception:  # one target's failure is recorded on it; this is the job itself failing (database)
            logger.exception("the audit sync job failed; will retry")


@asynccontextmanager
async def background_jobs(
    runtime: Runtime, storage: StorageService, refusals: RefusalRecorder, audit_sync: SyncJob
) -> AsyncIterator[None]:
    """Start every job; stop them all when the gateway stops."""
    prober = GrantProber(
        runtime.sessions, runtime.audit, storage.states, storage.signers, runtime.settings.storage_probe_seconds
    )
    prober.start()
    tasks = [
        asyncio.create_task(_checkpoint_loop(runtime)),
        asyncio.create_task(_refusal_summaries_loop(refusals)),
        asyncio.create_task(_audit_sync_loop(audit_sync)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(prober.stop)
