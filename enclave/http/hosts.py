"""The request's host name, parsed strictly: in shared mode it selects the tenant a request may act on, so
anything ambiguous (two Host headers, userinfo, stray characters) is refused rather than guessed at."""

from __future__ import annotations

import re

from starlette.types import Scope

from tenancy.errors import InvalidRequestError

_HOST = re.compile(r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::(?P<port>[0-9]{1,5}))?")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?")


class BadHostError(InvalidRequestError):
    """The Host header is missing, repeated or malformed."""


def request_host(scope: Scope) -> str | None:
    """The host name of the request, lowercase, without port or trailing dot; None for an IP literal
    (which names no tenant). BadHostError for anything but exactly one well-formed Host header."""
    values = [value for name, value in scope.get("headers", []) if name.lower() == b"host"]
    if len(values) != 1:
        raise BadHostError("send exactly one Host header")
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        raise BadHostError("the Host header must be an ASCII host name") from None
    if _IPV6.fullmatch(text):
        return None
    match = _HOST.fullmatch(text)
    if match is None:
        raise BadHostError("the Host header must be a host name with an optional port, nothing else")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise BadHostError("the Host header's port is out of range")
    name = match.group("name").lower().removesuffix(".")
    if not name or any(not label for label in name.split(".")):
        raise BadHostError("the Host header's name has an empty label")
    if all(label.isdigit() for label in name.split(".")):
        return None  # an IPv4 literal
    return name
