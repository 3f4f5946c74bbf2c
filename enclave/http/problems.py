"""Errors become HTTP once, here: every domain error, the audit log and database being unavailable, and
the framework's own errors answer with one problem-details document (RFC 9457) carrying the request id.

Details never echo request input (a path or field may hold a pasted secret); validation errors name the
field and the rule, not the value."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from audit.store.log import AuditWriteError
from enclave.db import DatabaseUnavailableError
from enclave.http.problem_models import PROBLEM_MEDIA_TYPE, Problem, problem_response
from enclave.logging import request_id_var
from tenancy.errors import DomainError, ErrorKind

logger = logging.getLogger("enclave.gateway")

STATUS_OF_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}
RETRY_AFTER_SECONDS = 5
AUDIT_UNAVAILABLE = "the audit log cannot be written; nothing was changed, try again later"
DATABASE_UNAVAILABLE = "the database is unreachable; nothing was changed, try again later"
# The framework's own messages for these would name the path or method; ours say only what went wrong.
_FRAMEWORK_DETAIL = {
    404: "no such resource",
    405: "method not allowed on this resource",
}

_DESCRIPTIONS = {
    400: "Bad request: the problem says what to change",
    401: "Missing or refused credentials",
    403: "Authenticated, but not allowed",
    404: "No such resource in this tenant",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Request validation failed: `errors` names each field",
    429: "Too many failed attempts: wait `Retry-After` seconds",
    503: "A dependency (database, cache, audit log) is unavailable: nothing was changed; retry after `Retry-After`",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, each a problem document."""
    return {status: problem_response(_DESCRIPTIONS[status]) for status in statuses}


def problem(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        request_id=request_id_var.get(),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(seconds)}


def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = STATUS_OF_KIND[exc.kind]
    headers = _retry_after(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(status, exc.message, headers=headers)


def _audit_unavailable(_request: Request, _exc: Exception) -> JSONResponse:
    logger.error("audit log write failed; request refused")
    return problem(503, AUDIT_UNAVAILABLE, headers=_retry_after(RETRY_AFTER_SECONDS))


def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    return problem(503, DATABASE_UNAVAILABLE, headers=_retry_after(RETRY_AFTER_SECONDS))


def _framework_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed: Callable[[str], Iterable[str]] | None = getattr(request.app.state, "allowed_methods", None)
        if allowed is not None:
            headers["Allow"] = ", ".join(sorted(allowed(request.url.path)))
    detail = _FRAMEWORK_DETAIL.get(exc.status_code, HTTPStatus(exc.status_code).phrase.lower())
    if exc.status_code == 413:
        detail = str(exc.detail)  # only the body cap (enclave/api/routing.py) raises it: no input in it
    return problem(exc.status_code, detail, headers=headers)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    fields = ", ".join(".".join(str(part) for part in error["loc"]) for error in errors)
    return problem(422, f"invalid request: {fields}", errors=errors)


def register_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(AuditWriteError, _audit_unavailable)
    for database_error in (OperationalError, InterfaceError, PoolTimeoutError, DatabaseUnavailableError):
        app.add_exception_handler(database_error, _database_unavailable)
    app.add_exception_handler(StarletteHTTPException, _framework_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
