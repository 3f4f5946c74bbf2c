"""How long a signed URL lives: the caller's wish, bounded by the grant's policy, the hard maximum, and the
lifetime of the credentials that sign it (a URL never outlives its signer's credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_TTL = timedelta(minutes=15)
HARD_MAX_TTL = timedelta(hours=1)
MIN_TTL = timedelta(seconds=1)


class TtlPolicyError(ValueError):
    """A requested lifetime outside the grant's policy; the message gives the allowed range."""


@dataclass(frozen=True)
class TtlPolicy:
    default: timedelta = DEFAULT_TTL
    maximum: timedelta = HARD_MAX_TTL

    def __post_init__(self) -> None:
        if not MIN_TTL <= self.maximum <= HARD_MAX_TTL:
            raise TtlPolicyError(f"maximum TTL must be between 1 s and {int(HARD_MAX_TTL.total_seconds())} s")
        if not MIN_TTL <= self.default <= self.maximum:
            raise TtlPolicyError("default TTL must be between 1 s and the maximum TTL")

    def lifetime(self, requested_seconds: int | None) -> timedelta:
        """The lifetime to sign for: the default when none is asked for; a request above the maximum is
        refused, not silently shortened."""
        if requested_seconds is None:
            return self.default
        limit = int(self.maximum.total_seconds())
        if isinstance(requested_seconds, bool) or not 1 <= requested_seconds <= limit:
            raise TtlPolicyError(f"ttl_seconds must be between 1 and {limit}")
        return timedelta(seconds=requested_seconds)

    @staticmethod
    def expiry(now: datetime, lifetime: timedelta, credentials_expire_at: datetime | None) -> datetime:
        """When a URL signed now expires: never after the signing credentials do."""
        expires = now + lifetime
        if credentials_expire_at is not None and credentials_expire_at < expires:
            return credentials_expire_at
        return expires
