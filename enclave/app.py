"""The gateway's FastAPI application: the API's and the pages' router groups over one set of services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from enclave.api.groups import API_GROUPS
from enclave.http.context import RequestContextMiddleware
from enclave.http.groups import mount_groups
from enclave.http.problem_models import FieldError, Problem
from enclave.http.problems import register_problem_handlers
from enclave.http.routing import MAX_BODY_STATE
from enclave.services import Services
from enclave.settings import Settings
from enclave.web.groups import PAGE_GROUPS, register_page_handlers

DEFAULT_MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
DEFAULT_APIKEY_MAX_TTL_DAYS = Settings.model_fields["apikey_max_ttl_days"].default


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
    """The application with every route and its metadata; `create_app` adds the services around it.
    No interactive docs: they would load scripts from a CDN; the OpenAPI document is at /openapi.json.
    No trailing-slash redirects: a redirect's address would be built from the request's Host header."""
    app = FastAPI(
        title="Enclave gateway",
        version="0.1.0",
        summary="Dedicated per-customer deployments: tenants, API keys and a tamper-evident audit log.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    setattr(app.state, MAX_BODY_STATE, max_body_bytes)
    mount_groups(app, (*API_GROUPS, *PAGE_GROUPS))
    register_problem_handlers(app)
    register_page_handlers(app)
    _complete_openapi(app, apikey_max_ttl_days)
    app.add_middleware(RequestContextMiddleware)
    return app


def create_app(services: Services) -> FastAPI:
    """The serving gateway: its background jobs run for as long as the application does."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with services.background_jobs():
            yield

    settings = services.runtime.settings
    app = api_app(lifespan, max_body_bytes=settings.max_body_bytes, apikey_max_ttl_days=settings.apikey_max_ttl_days)
    app.state.services = services
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=services.runtime.telemetry.tracer_provider, excluded_urls="healthz,readyz"
    )
    return app
