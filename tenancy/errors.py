"""Domain errors every runtime package raises and the gateway maps to HTTP once.

`auth/`, `storage_connector/` and `enclave/` subclass these (e.g. `class GrantNotFoundError(NotFoundError)`);
the gateway turns each kind into one problem-details response, so a package never imports the web layer.
Messages are shown to clients: they say what is wrong and never carry a secret."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    INVALID = "invalid-request"  # 400
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not-found"  # 404
    CONFLICT = "conflict"  # 409
    TOO_LARGE = "too-large"  # 413
    RATE_LIMITED = "rate-limited"  # 429
    UNAVAILABLE = "unavailable"  # 503


class DomainError(Exception):
    """Base of every error a client may see; `kind` decides the HTTP status."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidRequestError(DomainError, ValueError):
    kind = ErrorKind.INVALID


class UnauthenticatedError(DomainError):
    """Credentials are missing or were refused."""

    kind = ErrorKind.UNAUTHENTICATED


class ForbiddenError(DomainError):
    kind = ErrorKind.FORBIDDEN


class NotFoundError(DomainError, LookupError):
    kind = ErrorKind.NOT_FOUND


class ConflictError(DomainError):
    kind = ErrorKind.CONFLICT


class PayloadTooLargeError(DomainError):
    """Something the caller sent is larger than allowed (a signed-URL batch, an upload part, ...)."""

    kind = ErrorKind.TOO_LARGE


class RateLimitedError(DomainError):
    """Too many attempts; `retry_after` (seconds, at least 1) says when to try again."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=max(1, retry_after))


class UnavailableError(DomainError):
    """A dependency (database, cache, audit log) cannot be used now; nothing was changed."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message, retry_after=retry_after)
