"""The route class every API router uses: it authenticates before the request body is read, and caps the
body while it streams in.

FastAPI reads a route's body before it resolves dependencies, so an authentication dependency alone would
let an anonymous client make the gateway read a body first. A route in an authenticated group runs the
group's authentication here, on headers only; the dependency then finds the principal already established.

The body cap is ours rather than the framework's `max_body_size`: that one answers a plain-text 413 from
outside the application, past the request-id, security-header and problem-details layer every response
goes through. Ours refuses a declared `Content-Length` over the cap before reading anything, and counts the
bytes of a streamed body as they arrive (413 problem as soon as they pass it)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import Message

ROUTE_TEMPLATE_STATE = "route_template"
MAX_BODY_STATE = "max_body_bytes"
_BODY_LIMIT_ATTRIBUTE = "__enclave_max_body_bytes__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class RouteGroupLike(Protocol):
    """What a route needs of its group (enclave/api/groups.py): its prefix and its authentication."""

    @property
    def prefix(self) -> str: ...
    @property
    def authenticate(self) -> Callable[[Request], object] | None: ...


def max_body(limit: int) -> Callable[[Endpoint], Endpoint]:
    """Per-route override of the body cap (the `max_body_bytes` setting): put it under the route decorator."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _BODY_LIMIT_ATTRIBUTE, limit)
        return endpoint

    return mark


def _too_large(limit: int) -> HTTPException:
    # An HTTPException: FastAPI lets it through its body reading, where any other error becomes a 400.
    return HTTPException(413, f"request body too large: at most {limit} bytes")


def _capped(request: Request, limit: int) -> Request:
    """`request` with its body stream refused past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    receive = request.receive
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return Request(request.scope, receive_capped)


class GatewayRoute(APIRoute):
    group: RouteGroupLike | None = None  # set when the group registry mounts the route

    @property
    def template(self) -> str:
        """The full path template (`/api/v1/api-keys/{key_id}`): what logs name instead of the raw path."""
        return (self.group.prefix if self.group else "") + self.path

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route_limit: int | None = getattr(self.endpoint, _BODY_LIMIT_ATTRIBUTE, None)

        async def authenticate_then_handle(request: Request) -> Response:
            setattr(request.state, ROUTE_TEMPLATE_STATE, self.template)
            authenticate = self.group.authenticate if self.group else None
            if authenticate is not None:
                await run_in_threadpool(authenticate, request)
            limit = route_limit if route_limit is not None else getattr(request.app.state, MAX_BODY_STATE, None)
            return await handler(request if limit is None else _capped(request, limit))

        return authenticate_then_handle


def resource_router(**options: Any) -> APIRouter:
    """A router for one resource (`enclave/api/routes/<resource>.py`); mount it in `enclave/api/groups.py`."""
    return APIRouter(route_class=GatewayRoute, **options)
