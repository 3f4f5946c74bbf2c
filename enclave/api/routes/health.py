"""Liveness and readiness probes (outside /api/v1, no authentication)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from enclave.cache import CacheUnavailableError
from enclave.db import DatabaseUnavailableError, check_ready
from enclave.http.deps import ServicesDep
from enclave.http.routing import resource_router

router = resource_router(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database and the cache answer",
    description="`detail.audit_sync` lists audit syncs into customers' buckets that fail or lag: a warning for "
    "the operator, not a reason to take this replica out of service.",
    responses={503: {"description": "not ready"}},
)
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
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if checks["database"] == "ok":
        try:
            body["detail"] = {"audit_sync": services.audit.sync.readiness()}
        except SQLAlchemyError as exc:
            body["detail"] = {"audit_sync": [f"the sync status could not be read ({type(exc).__name__})"]}
    return JSONResponse(body, status_code=200 if ready else 503)
