"""What every /scim/v2 route shares: its authentication (a SCIM token, nothing else, then the token's request
budget), its error documents (RFC 7644 §3.12: `application/scim+json`, `status` as a string, `scimType`) in
place of the API's problem details, request bodies read as JSON, and responses with their ETag and location.

Errors are rendered by the route class itself (`ScimRoute`), so that everything a SCIM route raises — refused
credentials, a spent budget, the audit log or the database being unavailable, a body past its cap — reaches the
directory as a SCIM error, while the rest of the API keeps its problem documents."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from scim2_models import (
    Context,
    Error,
    ForbiddenException,
    InvalidSyntaxException,
    Resource,
    ResponseParameters,
    SCIMException,
)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from audit.store.log import AuditWriteError
from auth.principal import Principal
from auth.roles import ServiceRole
from auth.scim.schema import MEDIA_TYPE
from enclave.db import DatabaseUnavailableError
from enclave.http.deps import PrincipalDep, authenticate_request, get_services, host_tenant
from enclave.http.problems import AUDIT_UNAVAILABLE, DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, STATUS_OF_KIND
from enclave.http.routing import GatewayRoute
from enclave.logging import request_id_var
from tenancy.errors import DomainError, ErrorKind, ForbiddenError, NotFoundError, UnavailableError

logger = logging.getLogger("enclave.scim")
SCIM_PREFIX = "/scim/v2"
CHALLENGE = 'Bearer realm="SCIM"'
JSON_MEDIA_TYPES = (MEDIA_TYPE, "application/json")
_DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError, DatabaseUnavailableError)
# a domain error's kind as the SCIM error type it is (RFC 7644 §3.12, Table 9)
_SCIM_TYPES = {ErrorKind.INVALID: "invalidValue", ErrorKind.CONFLICT: "uniqueness"}


def scim_error(
    status: int, detail: str, *, scim_type: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A SCIM error document (its detail carries the request id, which the schema has no field for)."""
    request_id = request_id_var.get()
    shown = f"{detail} (request {request_id})" if request_id and status >= 500 else detail
    body = Error(status=status, scim_type=scim_type, detail=shown).model_dump(scim_ctx=Context.DEFAULT)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def _error_response(exc: Exception) -> JSONResponse | None:
    """The SCIM error for what a route raised; None for what is a bug (the gateway answers 500)."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        return scim_error(int(error.status or 400), str(error.detail or exc), scim_type=error.scim_type)
    if isinstance(exc, DomainError):
        status = STATUS_OF_KIND[exc.kind]
        headers = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
        if status == 401:
            headers["WWW-Authenticate"] = CHALLENGE
        return scim_error(status, exc.message, scim_type=_SCIM_TYPES.get(exc.kind), headers=headers)
    if isinstance(exc, AuditWriteError):
        logger.error("audit log write failed; SCIM request refused")
        return scim_error(503, AUDIT_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, IntegrityError):  # two requests raced for the same userName, displayName or member
        return scim_error(409, "a concurrent change conflicts with this request; read again", scim_type="uniqueness")
    if isinstance(exc, _DATABASE_ERRORS):
        logger.error("database unavailable: %s", type(exc).__name__)
        return scim_error(503, DATABASE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, StarletteHTTPException):  # the body cap (enclave/http/routing.py): no input in it
        return scim_error(exc.status_code, str(exc.detail))
    if isinstance(exc, RequestValidationError):
        return scim_error(400, "the request does not have the form this endpoint takes", scim_type="invalidSyntax")
    return None


class ScimRoute(GatewayRoute):
    """A /scim/v2 route: authenticated before its body is read (GatewayRoute), every error a SCIM document."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = _error_response(exc)
                if response is None:
                    raise
                return response

        return handle


def authenticate_scim(request: Request) -> Principal:
    """The SCIM group's authentication: a SCIM token (refusals limited and audited like any other), then one of
    its requests spent."""
    services = get_services(request)
    principal = authenticate_request(request, authenticator=services.authentication.scim)
    services.scim.admit(principal)
    return principal


def require_directory(principal: PrincipalDep) -> Principal:
    """The SCIM group's dependency: the principal is a tenant's directory (defence in depth: only the SCIM token
    authenticates here)."""
    if principal.role is not ServiceRole.SCIM or principal.tenant is None:
        raise ForbiddenError("only the tenant's SCIM token may use /scim/v2")
    return principal


ScimDirectory = Depends(require_directory)


def base_url(request: Request) -> str:
    """Where this tenant's SCIM service is, as its configuration says (never the request's Host): resource
    locations and references are absolute URLs under it."""
    tenant = host_tenant(request)
    if tenant is None:
        raise NotFoundError("no tenant is served at this address")
    if tenant.origin is None:
        raise UnavailableError("SCIM needs the gateway's public address: set ENCLAVE_PUBLIC_URL")
    return tenant.origin + SCIM_PREFIX


async def read_json(request: Request) -> Any:
    """The request body as JSON: `application/scim+json` or `application/json` (RFC 7644 §3.8), or no type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and media_type not in JSON_MEDIA_TYPES:
        raise InvalidSyntaxException(detail=f"send the body as {MEDIA_TYPE}")
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidSyntaxException(detail="the body is not JSON") from None


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="the body is a JSON object")
    return body


def no_filter(request: Request) -> None:
    """RFC 7644 §4: a discovery endpoint given a filter SHOULD answer 403."""
    if "filter" in request.query_params:
        raise ForbiddenException(detail="discovery endpoints take no filter")


def resource_response(
    resource: Resource[Any],
    context: Context,
    parameters: ResponseParameters[Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    """A resource with its `ETag` (and `Location` when created: RFC 7644 §3.3), `attributes` and
    `excludedAttributes` applied."""
    assert resource.meta is not None
    assert resource.meta.location is not None
    headers = {"Content-Location": resource.meta.location}
    if resource.meta.version:
        headers["ETag"] = resource.meta.version
    if status == HTTPStatus.CREATED:
        headers["Location"] = resource.meta.location
    body = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def body_response(body: Any) -> Response:
    return JSONResponse(body, media_type=MEDIA_TYPE)
