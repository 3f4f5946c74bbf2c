"""The gateway's FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from audit.store.reader import tenants_with_unsigned_records
from auth.apikeys import KEY_PREFIX, ApiKeyAuthenticator
from auth.authn import AuthenticatorChain, OperatorTokenAuthenticator
from auth.sessions_authn import SessionAuthenticator
from enclave.api.context import RequestContextMiddleware
from enclave.api.deps import Authentication
from enclave.api.failed_auth import FailedAuthLimiter
from enclave.api.groups import mount_groups
from enclave.api.models.problems import FieldError, Problem
from enclave.api.problems import register_problem_handlers
from enclave.api.routing import MAX_BODY_STATE
from enclave.cache import RateLimit
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Settings
from enclave.sso_runtime import session_store

logger = logging.getLogger("enclave.gateway")
DEFAULT_MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
DEFAULT_APIKEY_MAX_TTL_DAYS = Settings.model_fields["apikey_max_ttl_days"].default


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


def _complete_openapi(app: FastAPI, apikey_max_ttl_days: int) -> None:
    """The document as this gateway behaves: the problem-details schema every error refers to, and the
    longest key lifetime its settings allow (the model admits the widest any gateway may be set to)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (FieldError, Problem):
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                definition.pop("$defs", None)
                schemas[model.__name__] = definition
            for variant in schemas["ApiKeyIn"]["properties"]["ttl_days"]["anyOf"]:
                if variant.get("type") == "integer":
                    variant["maximum"] = apikey_max_ttl_days
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def api_app(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    apikey_max_ttl_days: int = DEFAULT_APIKEY_MAX_TTL_DAYS,
) -> FastAPI:
    """The application with every route and its metadata; `create_app` adds the runtime around it.
    No interactive docs: they would load scripts from a CDN; the OpenAPI document is at /openapi.json."""
    app = FastAPI(
        title="Enclave gateway",
        version="0.1.0",
        summary="Dedicated per-customer deployments: tenants, API keys and a tamper-evident audit log.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    setattr(app.state, MAX_BODY_STATE, max_body_bytes)
    mount_groups(app)
    register_problem_handlers(app)
    _complete_openapi(app, apikey_max_ttl_days)
    app.add_middleware(RequestContextMiddleware)
    return app


def authentication(runtime: Runtime) -> Authentication:
    settings = runtime.settings
    operator_token = settings.operator_token.get_secret_value() if settings.operator_token else None
    window = settings.auth_failure_window_seconds
    return Authentication(
        chain=AuthenticatorChain(
            [
                OperatorTokenAuthenticator(operator_token, api_key_prefix=KEY_PREFIX),
                ApiKeyAuthenticator(runtime.sessions),
                SessionAuthenticator(session_store(runtime)),
            ]
        ),
        limiter=FailedAuthLimiter(
            runtime.cache,
            runtime.appender,
            per_subject=RateLimit(settings.auth_failures_per_subject, window),
            per_client=RateLimit(settings.auth_failures_per_client, window),
        ),
    )


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

    settings = runtime.settings
    app = api_app(lifespan, max_body_bytes=settings.max_body_bytes, apikey_max_ttl_days=settings.apikey_max_ttl_days)
    app.state.runtime = runtime
    app.state.authentication = authentication(runtime)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=runtime.telemetry.tracer_provider, excluded_urls="healthz,readyz"
    )
    return app
