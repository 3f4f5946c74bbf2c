"""The gateway's FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from audit.store.reader import tenants_with_unsigned_records
from enclave.api import admin_routes, audit_routes, health
from enclave.db import transaction
from enclave.logging import request_id_var
from enclave.runtime import Runtime

logger = logging.getLogger("enclave.gateway")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


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


def api_app(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None) -> FastAPI:
    """The application with every route and its metadata; `create_app` adds the runtime around it."""
    app = FastAPI(
        title="Enclave gateway",
        version="0.1.0",
        summary="Dedicated per-customer deployments: tenants, API keys and a tamper-evident audit log.",
        lifespan=lifespan,
    )
    for router in (health.router, audit_routes.router, admin_routes.router):
        app.include_router(router)
    return app


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_checkpoint_loop(runtime))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = api_app(lifespan)
    app.state.runtime = runtime

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = request_id
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,  # the path only: query strings may carry signatures
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=runtime.telemetry.tracer_provider, excluded_urls="healthz,readyz"
    )
    return app
