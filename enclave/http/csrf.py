"""Cross-site request forgery protection for cookie-authenticated, state-changing requests: the request's
Origin (or, when a browser sends none, its Referer's origin) must be the tenant's own, and it must carry the
session's CSRF token (header `X-CSRF-Token` on the API; form field `csrf_token` on the pages' forms, checked by
the pages' group once the form is read). SameSite=Lax on the cookie is a third layer, not the only one."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import Headers

from tenancy.errors import ForbiddenError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def check_origin(headers: Headers, expected_origin: str) -> None:
    origin = headers.get("origin")
    if origin is None or origin == "null":
        referer = headers.get("referer")
        origin = _origin_of(referer) if referer else None
    if origin != expected_origin.rstrip("/"):
        raise ForbiddenError("cross-site request refused: it does not come from this gateway's pages")


def check_token(presented: str | None, expected: str) -> None:
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ForbiddenError("missing or wrong CSRF token: reload the page and try again")


def check_csrf(method: str, headers: Headers, expected_origin: str, expected_token: str, presented: str | None) -> None:
    """ForbiddenError unless `method` is safe or the request passes both the Origin and the token check."""
    if method.upper() in SAFE_METHODS:
        return
    check_origin(headers, expected_origin)
    check_token(presented if presented is not None else headers.get(CSRF_HEADER), expected_token)
