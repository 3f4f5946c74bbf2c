"""The table of browser sessions: the source of truth for listing and revoking them (the cache holds the hot
copy). Rows are keyed by the SHA-256 of the session token; the token itself is never stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from audit.store.types import UtcDateTime
from auth.models import Base
from auth.sealing import SealedText


class UserSessionRow(Base):
    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user_id_created_at", "user_id", "created_at"),
        Index("ix_user_sessions_provider_id_idp_session_id", "provider_id", "idp_session_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the token
    public_id: Mapped[str] = mapped_column(String(16), unique=True)  # names a session in lists and URLs
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    provider_id: Mapped[str | None] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))  # per-session anti-CSRF token (not a credential)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())  # absolute limit
    idle_timeout_seconds: Mapped[int]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(100))
    # signed in through a provider: which identity, the provider's session id (`sid`, named by back-channel
    # logout), the hash of the login's nonce (a refreshed ID token may repeat it), and the credential
    # re-validation asks the provider with (a refresh token, GitHub's access token). That credential is never
    # logged, audited or returned, is sealed at rest (auth.sealing), and is cleared when the session ends.
    identity_id: Mapped[str | None] = mapped_column(String(32))
    idp_session_id: Mapped[str | None] = mapped_column(String(255))
    nonce_hash: Mapped[str | None] = mapped_column(String(64))
    idp_token: Mapped[str | None] = mapped_column(SealedText("user_sessions.idp_token"))
    revalidate_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the provider is asked again then
    revalidating_until: Mapped[datetime | None] = mapped_column(UtcDateTime())  # one replica is asking it
