"""Every response, errors and 500s included, carries `X-Request-ID` and the security headers, and is
written to the access log by route template (`/api/v1/api-keys/{key_id}`), never by raw path: a path may
hold a pasted secret. An unhandled error answers a problem document with the request id; its traceback
(frames only, no values) goes to the server log. If the response had already started (a stream), the error
is re-raised so the server aborts the connection instead of ending the response cleanly."""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from enclave.http.problems import problem
from enclave.http.routing import ROUTE_TEMPLATE_STATE
from enclave.logging import request_id_var

logger = logging.getLogger("enclave.gateway")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
)
HSTS = "max-age=31536000; includeSubDomains"
UNMATCHED = "<unmatched>"


def _frames(exc: BaseException) -> str:
    """Where an error happened, innermost last, without any values (they may hold secrets)."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    return " <- ".join(f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames))


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        https = scope.get("scheme") == "https"

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except Exception as exc:
            logger.error("unhandled %s at %s", type(exc).__name__, _frames(exc))
            if response_started:
                raise  # the server aborts the response: a partial body never looks complete
            response = problem(500, "internal error; quote the request id when reporting it")
            await response(scope, receive, send_with_context)
        finally:
            state = scope.get("state") or {}
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": state.get(ROUTE_TEMPLATE_STATE, UNMATCHED),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)
