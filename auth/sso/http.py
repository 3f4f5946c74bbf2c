"""Talking to identity providers over HTTP: bounded time and size, JSON only, errors that name the endpoint
but never echo a response body (it may hold tokens).

Authlib's OAuth 2 client is built on the `httpx2` fork when that is installed (the development group installs it
for the SCIM checker) and on `httpx` otherwise (a production install): everything handed to it is spelled so
both accept it (a timeout tuple), and both libraries' transport errors are caught (`OAUTH_TRANSPORT_ERRORS`)."""

from __future__ import annotations

import functools
import ssl
import warnings
from typing import Any

import authlib.deprecate  # noqa: F401 - installs Authlib's own warning filter first, so ours below wins
import httpx

with warnings.catch_warnings():
    # Authlib 1.9 prefers the `httpx2` fork and warns when it falls back to httpx (what a production install has).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.integrations.httpx_client import oauth2_client as _authlib_transport

from auth.sso.errors import ProviderUnavailableError

__all__ = [
    "OAUTH_TIMEOUT",
    "OAUTH_TRANSPORT_ERRORS",
    "OAuth2Client",
    "get_json",
    "get_json_object",
    "json_from",
    "new_http_client",
    "tls_context",
]
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
OAUTH_TIMEOUT = (5.0, 10.0, 10.0, 10.0)  # (connect, read, write, pool): the form httpx and httpx2 both take
OAUTH_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _authlib_transport.httpx2.HTTPError)
MAX_RESPONSE_BYTES = 1 << 20


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every provider client (loading the CA store costs ~0.1 s each time)."""
    return ssl.create_default_context()


def new_http_client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT, follow_redirects=False, headers={"Accept": "application/json"}, verify=tls_context()
    )


def json_from(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise ProviderUnavailableError(f"{what} answered HTTP {response.status_code}")
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ProviderUnavailableError(f"{what} answered more than {MAX_RESPONSE_BYTES} bytes")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailableError(f"{what} did not answer JSON") from None


def get_json(client: httpx.Client, url: str, what: str, headers: dict[str, str] | None = None) -> Any:
    try:
        response = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ProviderUnavailableError(f"{what} unreachable ({type(exc).__name__})") from None
    return json_from(response, what)


def get_json_object(client: httpx.Client, url: str, what: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    value = get_json(client, url, what, headers)
    if not isinstance(value, dict):
        raise ProviderUnavailableError(f"{what} did not answer a JSON object")
    return value
