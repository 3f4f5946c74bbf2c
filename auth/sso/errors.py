"""Why a sign-in was refused. Every message is safe to show the user and to record in the audit log: it
names what failed, never a token, code, secret or signature."""

from __future__ import annotations

from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError


class LoginRefusedError(Exception):
    """A sign-in that must not go ahead. `reason` is a short stable code for audit records and tests;
    the message explains it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderUnavailableError(LoginRefusedError):
    """The identity provider could not be reached or answered nonsense."""

    def __init__(self, message: str) -> None:
        super().__init__("provider_unavailable", message)


class SsoConfigError(InvalidRequestError):
    """An SSO configuration request that cannot be carried out; the message says why."""


class ProviderNotFoundError(NotFoundError, SsoConfigError):
    """The tenant has no identity provider of that name."""


class ProviderConflictError(ConflictError, SsoConfigError):
    """The tenant already has an identity provider of that name."""
