"""OpenID Connect Back-Channel Logout 1.0 (https://openid.net/specs/openid-connect-backchannel-1_0.html): the
identity provider tells the gateway, server to server, that a user's session at the provider ended, and the
gateway ends the sessions opened through it.

The logout token is validated like an ID token (§2.6): signed with a key from the provider's own JWKS (never
a key the token brings), an allowed public-key algorithm, the exact issuer of one of the tenant's providers,
an audience naming that provider's client id, `iat` recent and not in the future, `exp` (when present) not
passed, a `jti` never seen before (replays are refused), the back-channel logout event in `events`, no
`nonce` (so an ID token can never pass as one, and the reverse: ID-token validation refuses `events`), a
`typ` that is not another kind of token, and a `sid` or a `sub`. Then (§2.7) the sessions with that provider
session id, or every session of the user that `sub` is linked to at that provider, end at once on every
replica, audited. Whatever fails is LogoutTokenError: the endpoint answers 400 (§2.8)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind, utc_now
from audit.store.log import AuditLog
from auth.sessions import SessionStore
from auth.sessions_models import UserSessionRow
from auth.sso.clients import ProviderClients
from auth.sso.config import ProviderKind
from auth.sso.errors import LoginRefusedError
from auth.sso.idtoken import (
    LEEWAY_SECONDS,
    LOGOUT_EVENT,
    MAX_TOKEN_AGE_SECONDS,
    check_times,
    number_claim,
    read_unverified_claims,
    verify_signature,
)
from auth.sso.models import IdentityProviderRow, SeenLogoutTokenRow, UserIdentityRow
from auth.sso.providers import OidcProvider
from auth.sso.registry import list_providers

LOGOUT_TOKEN_TYPES = ("logout+jwt", "jwt")  # §2.4 recommends explicit typing; older providers send JWT
LOGOUT_KINDS = frozenset({ProviderKind.OIDC.value, ProviderKind.KEYCLOAK.value})  # those that offer it


class LogoutTokenError(Exception):
    """A logout token that is not acted on; `reason` is a short stable code, the message safe to return."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _audiences(claims: dict[str, Any]) -> list[Any]:
    audience = claims.get("aud")
    return [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []


def _optional_string(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise LoginRefusedError(f"{name}_invalid", f"the logout token's `{name}` is not a string of 1-255 characters")
    return value


def check_logout_claims(
    claims: dict[str, Any], issuer: str, client_id: str, now: float
) -> tuple[str, str | None, str | None]:
    """§2.6 steps 3-9 on verified claims; the token's (jti, sid, sub). LoginRefusedError naming the first
    check that failed."""
    if claims.get("iss") != issuer:
        raise LoginRefusedError("issuer_mismatch", "the logout token was issued by another issuer")
    if client_id not in _audiences(claims):
        raise LoginRefusedError("audience_mismatch", "the logout token is not meant for this gateway (audience)")
    check_times(claims, now, "logout token", exp_required=False)  # exp: required by the 2022 final text only
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise LoginRefusedError("not_a_logout_token", "the token carries no back-channel logout event")
    if "nonce" in claims:
        raise LoginRefusedError("nonce_present", "a logout token must not carry a nonce")
    jti = _optional_string(claims, "jti")
    if jti is None:
        raise LoginRefusedError("jti_invalid", "the logout token has no `jti`")
    sid, sub = _optional_string(claims, "sid"), _optional_string(claims, "sub")
    if sid is None and sub is None:
        raise LoginRefusedError("sid_or_sub_missing", "the logout token names neither a session (sid) nor a user (sub)")
    return jti, sid, sub


class BackchannelLogout:
    def __init__(
        self, sessions: sessionmaker[Session], audit: AuditLog, store: SessionStore, clients: ProviderClients
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._store = store
        self._clients = clients

    def handle(self, tenant_id: str, logout_token: str | None, now: float | None = None) -> int:
        """Act on a logout token sent to `tenant_id`'s gateway; the number of sessions ended (0 is a success
        too: the user had none here). LogoutTokenError when the token is not valid."""
        try:
            return self._handle(tenant_id, logout_token, time.time() if now is None else now)
        except LoginRefusedError as refused:  # includes a provider whose keys cannot be fetched now
            raise LogoutTokenError(refused.reason, str(refused).replace("ID token", "logout token")) from None

    def _handle(self, tenant_id: str, logout_token: str | None, now: float) -> int:
        if not logout_token:
            raise LoginRefusedError("token_missing", "the request carries no logout_token")
        row, provider = self._provider_for(tenant_id, read_unverified_claims(logout_token))
        claims = verify_signature(logout_token, provider.keys, provider.config.algorithms, LOGOUT_TOKEN_TYPES)
        jti, sid, sub = check_logout_claims(claims, provider.config.discovery_issuer, provider.config.client_id, now)
        with self._sessions() as db, db.begin():
            self._remember(db, tenant_id, row, jti, number_claim(claims, "iat"))
            sessions = self._sessions_named(db, row, sid, sub)
            actor = Actor(ActorKind.SYSTEM, f"sso:{row.name}")
            return self._store.revoke_rows(db, self._audit, actor, sessions, reason="back-channel logout")

    def _provider_for(self, tenant_id: str, claims: dict[str, Any]) -> tuple[IdentityProviderRow, OidcProvider]:
        """The tenant's provider whose issuer and client id the token names (several clients may share an
        issuer); only a provider kind that offers back-channel logout."""
        issuer, audiences = claims.get("iss"), _audiences(claims)
        with self._sessions() as db:
            rows = list_providers(db, tenant_id)
        for row in rows:
            if row.kind in LOGOUT_KINDS and row.issuer == issuer and row.client_id in audiences:
                provider = self._clients.get(row)
                if isinstance(provider, OidcProvider):
                    return row, provider
        raise LoginRefusedError("unknown_issuer", "the logout token names no sign-in provider of this tenant")

    def _remember(self, db: Session, tenant_id: str, row: IdentityProviderRow, jti: str, issued: float) -> None:
        """Record the token's jti (per provider) until it is too old to be accepted; refuse one seen before."""
        db.execute(delete(SeenLogoutTokenRow).where(SeenLogoutTokenRow.expires_at < utc_now()))
        key = hashlib.sha256(f"{row.id}\n{jti}".encode()).hexdigest()
        keep_until = datetime.fromtimestamp(issued, UTC) + timedelta(seconds=MAX_TOKEN_AGE_SECONDS + LEEWAY_SECONDS)
        db.add(SeenLogoutTokenRow(id=key, tenant_id=tenant_id, expires_at=keep_until))
        try:
            db.flush()
        except IntegrityError:
            raise LoginRefusedError("replayed", "this logout token was already used") from None

    def _sessions_named(
        self, db: Session, row: IdentityProviderRow, sid: str | None, sub: str | None
    ) -> list[UserSessionRow]:
        """§2.7: the sessions with this provider session id (of this user, when `sub` is named too), or every
        session of the user `sub` is linked to, opened through this provider."""
        query = select(UserSessionRow).where(UserSessionRow.provider_id == row.id, UserSessionRow.revoked_at.is_(None))
        if sub is not None:
            link = db.scalars(
                select(UserIdentityRow).where(UserIdentityRow.provider_id == row.id, UserIdentityRow.subject == sub)
            ).one_or_none()
            if link is None:
                return []
            query = query.where(UserSessionRow.user_id == link.user_id)
        if sid is not None:
            query = query.where(UserSessionRow.idp_session_id == sid)
        return list(db.scalars(query))
