"""Liveness and readiness probes (outside /api/v1, no authentication)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from enclave.cache import CacheUnavailableError
from enclave.db import DatabaseUnavailableError, check_ready
from enclave.http.deps import ServicesDep
from enclave.http.routing import resource_router

router = resource_router(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the cache answer", responses={503: {"description": "not ready"}})
def readyz(services: ServicesDep) -> JSONResponse:
    runtime = services.runtime
    checks: dict[str, str] = {}
    try:
        check_ready(runtime.engine)
        checks["database"] = "ok"
    except DatabaseUnavailableError as exc:
        checks["database"] = str(exc)
    try:
        runtime.cache.ping()
        checks["cache"] = "ok"
    except CacheUnavailableError as exc:
        checks["cache"] = str(exc)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )
