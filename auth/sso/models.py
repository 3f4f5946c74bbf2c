"""Tables for single sign-on: each tenant's identity providers and sign-in policy, the link from a provider's
subject to a user, and login attempts in flight (state, nonce and PKCE verifier, consumed once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from audit.store.types import UtcDateTime
from auth.models import Base
from auth.sealing import SealedText


class IdentityProviderRow(Base):
    __tablename__ = "sso_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))  # shown on the sign-in page and in URLs
    kind: Mapped[str] = mapped_column(String(20))  # google | github | microsoft | oidc | keycloak
    issuer: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # never logged, never audited, never returned; sealed at rest (auth.sealing)
    client_secret: Mapped[str | None] = mapped_column(SealedText("sso_providers.client_secret"))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # kind-specific: tenant ids, hd, org/team, scopes
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SignInPolicyRow(Base):
    __tablename__ = "sso_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    allowed_domains: Mapped[list[str]] = mapped_column(JSON)
    jit: Mapped[bool] = mapped_column(Boolean)
    role_claim: Mapped[str | None] = mapped_column(String(100))
    role_map: Mapped[dict[str, str]] = mapped_column(JSON)
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer)
    absolute_timeout_seconds: Mapped[int] = mapped_column(Integer)
    revalidate_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class UserIdentityRow(Base):
    """A user as one provider knows them: the provider's stable subject (GitHub's numeric id, Microsoft's
    `tid:oid`, an OIDC `sub`), never an email."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SeenLogoutTokenRow(Base):
    """A back-channel logout token already acted on, kept while a replay of it would still be inside the
    accepted age (its `jti`, per provider, hashed): the same token is refused the second time."""

    __tablename__ = "sso_seen_logout_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of provider id + jti
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class LoginAttemptRow(Base):
    """One authorization request in flight. Keyed by the SHA-256 of `state`; deleted when used."""

    __tablename__ = "sso_login_attempts"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    provider_id: Mapped[str] = mapped_column(String(16))
    browser_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the browser-binding cookie value
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
