"""The sign-in flow, independent of any web framework: authorization code + PKCE (S256) + state + nonce,
bound to the browser that started it.

`begin` stores a login attempt (keyed by the hash of `state`, holding the nonce, the PKCE verifier, the
provider and a hash of a browser-binding secret the caller sets as a cookie) and returns the provider URL.
`complete` consumes the attempt exactly once, checks the browser binding, takes the provider from the attempt
(never from the response), checks that the response names that provider as its issuer (RFC 9207) before the
code is sent anywhere, exchanges the code, validates the identity, applies the tenant's sign-in policy and
opens a session. Every outcome is audited: success in the same transaction as the session, a refusal (with
its reason) in a transaction of its own."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind, AuditEvent, Outcome, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant, User
from auth.sessions import ActiveSession, ProviderSignIn, SessionStore
from auth.sso.clients import ProviderClients
from auth.sso.errors import LoginRefusedError, SsoConfigError
from auth.sso.http import OAuth2Client, tls_context
from auth.sso.idtoken import nonce_hash
from auth.sso.models import IdentityProviderRow, LoginAttemptRow
from auth.sso.providers import IdentityProvider, VerifiedIdentity, exchange_code
from auth.sso.registry import get_policy, get_provider
from auth.users import sign_in_user

LOGIN_TTL = timedelta(minutes=10)
MAX_NEXT_PATH = 500
TRIAL_TARGET = "trial:"  # the target of a test sign-in: `complete` refuses its state, so it never opens a session


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_next_path(value: str | None) -> str:
    """A post-login target that stays on this gateway: a relative path, never a URL or `//host`."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if (
        len(value) > MAX_NEXT_PATH
        or parts.scheme
        or parts.netloc
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 0x21 or c == "\\" for c in value)
    ):
        raise LoginRefusedError("bad_next", "the post-login target must be a relative path on this gateway")
    return value


@dataclass(frozen=True)
class LoginStart:
    redirect_url: str  # send the browser here
    browser_binding: str  # set as a short-lived cookie; `complete` requires it back


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_token: str  # set as the session cookie; shown nowhere else
    session: ActiveSession
    next_path: str
    provider_id: str


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str | None = None


class SignInService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        store: SessionStore,
        clients: ProviderClients | None = None,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self.store = store
        self.clients = clients or ProviderClients()

    def provider(self, row: IdentityProviderRow) -> IdentityProvider:
        """The provider client for a configuration row (see ProviderClients)."""
        return self.clients.get(row)

    # -- begin -----------------------------------------------------------------------------------------
    def begin(
        self,
        tenant_id: str,
        provider_name: str,
        *,
        redirect_uri: str,
        next_path: str | None,
        context: RequestContext = RequestContext(),
    ) -> LoginStart:
        """Where to send the browser to sign in with `provider_name`; a refusal (unknown provider, a provider
        whose discovery document cannot be trusted, an unsafe target) is audited."""
        with self._sessions() as db:
            row = get_provider(db, tenant_id, provider_name)
        try:
            if row is None:
                raise LoginRefusedError("unknown_provider", f"this tenant has no sign-in provider {provider_name!r}")
            return self._begin(tenant_id, row, redirect_uri, safe_next_path(next_path))
        except LoginRefusedError as refused:
            self._record_failure(tenant_id, row.id if row else None, None, refused, context)
            raise

    def _begin(self, tenant_id: str, row: IdentityProviderRow, redirect_uri: str, target: str) -> LoginStart:
        provider = self.provider(row)
        endpoints = provider.endpoints()
        state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
        verifier = secrets.token_urlsafe(64)  # RFC 7636: 43-128 characters
        client = OAuth2Client(
            client_id=provider.config.client_id,
            redirect_uri=redirect_uri,
            scope=provider.scope(),
            code_challenge_method="S256",
            verify=tls_context(),
        )
        extra = {"nonce": nonce} if provider.uses_nonce() else {}
        url, _ = client.create_authorization_url(endpoints.authorization, state=state, code_verifier=verifier, **extra)
        with self._sessions() as db, db.begin():
            db.execute(delete(LoginAttemptRow).where(LoginAttemptRow.expires_at < utc_now()))
            db.add(
                LoginAttemptRow(
                    state_hash=_sha256(state),
                    tenant_id=tenant_id,
                    provider_id=row.id,
                    browser_hash=_sha256(binding),
                    nonce=nonce,
                    code_verifier=verifier,
                    next_path=target,
                    expires_at=utc_now() + LOGIN_TTL,
                )
            )
        return LoginStart(url, binding)

    # -- complete --------------------------------------------------------------------------------------
    def complete(
        self,
        tenant_id: str,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        browser_binding: str | None,
        redirect_uri: str,
        iss: str | None = None,
        context: RequestContext = RequestContext(),
        replaces: str | None = None,
    ) -> LoginResult:
        """Finish the sign-in the callback's parameters (`state`, `code`, `error`, RFC 9207's `iss`) answer."""
        identity: VerifiedIdentity | None = None
        provider_id: str | None = None
        try:
            attempt = self._consume(tenant_id, state, browser_binding)
            provider_id = attempt.provider_id
            if attempt.next_path == TRIAL_TARGET:
                raise LoginRefusedError("state_unknown", "a test sign-in's state never opens a session")
            with self._sessions() as db:
                row = db.get(IdentityProviderRow, attempt.provider_id)
            if row is None or row.tenant_id != tenant_id:
                raise LoginRefusedError("unknown_provider", "the sign-in provider was removed during the sign-in")
            provider = self.provider(row)
            provider.check_response_issuer(iss)  # error responses too (RFC 9207 §2.4)
            if error:
                raise LoginRefusedError("provider_error", f"the provider ended the sign-in ({error[:60]})")
            if not code:
                raise LoginRefusedError("code_missing", "the provider returned no authorization code")
            token = exchange_code(provider, code=code, code_verifier=attempt.code_verifier, redirect_uri=redirect_uri)
            identity = provider.identity(token, attempt.nonce)
            signed_in = ProviderSignIn(
                provider_id=row.id,
                idp_session_id=identity.session_id,
                nonce_hash=nonce_hash(attempt.nonce),
                credential=provider.session_credential(token),
            )
            return self._open_session(tenant_id, row, identity, signed_in, attempt.next_path, context, replaces)
        except LoginRefusedError as refused:
            self._record_failure(tenant_id, provider_id, identity, refused, context)
            raise

    # -- test sign-in (customer IT trying a provider) -------------------------------------------------------
    def begin_trial(self, tenant_id: str, row: IdentityProviderRow, redirect_uri: str) -> LoginStart:
        """Where to send an administrator's browser to try `row`; the attempt can only be finished by `trial`."""
        return self._begin(tenant_id, row, redirect_uri, TRIAL_TARGET)

    def trial(
        self,
        tenant_id: str,
        steps: list[str],
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        browser_binding: str | None,
        redirect_uri: str,
        iss: str | None = None,
    ) -> tuple[IdentityProviderRow, VerifiedIdentity]:
        """Every check of `complete` up to the verified identity, appending the name of each to `steps` as it
        starts (so the last one named is the one a LoginRefusedError comes from). Opens no session, creates no
        user and records nothing: the provider's answer is only reported."""
        steps.append("sign-in state and browser binding")
        attempt = self._consume(tenant_id, state, browser_binding)
        if attempt.next_path != TRIAL_TARGET:
            raise LoginRefusedError("state_unknown", "this state belongs to a real sign-in, not a test")
        with self._sessions() as db:
            row = db.get(IdentityProviderRow, attempt.provider_id)
        if row is None or row.tenant_id != tenant_id:
            raise LoginRefusedError("unknown_provider", "the provider was removed during the test")
        provider = self.provider(row)
        steps.append("response issuer (RFC 9207)")
        provider.check_response_issuer(iss)
        steps.append("provider's answer")
        if error:
            raise LoginRefusedError("provider_error", f"the provider ended the sign-in ({error[:60]})")
        if not code:
            raise LoginRefusedError("code_missing", "the provider returned no authorization code")
        steps.append("code exchange at the token endpoint")
        token = exchange_code(provider, code=code, code_verifier=attempt.code_verifier, redirect_uri=redirect_uri)
        steps.append("identity validation (ID token signature, issuer, audience, expiry, nonce; userinfo)")
        return row, provider.identity(token, attempt.nonce)

    def _consume(self, tenant_id: str, state: str | None, browser_binding: str | None) -> LoginAttemptRow:
        if not state or len(state) > 200:
            raise LoginRefusedError("state_missing", "the sign-in response carries no state")
        key = _sha256(state)
        with self._sessions() as db, db.begin():
            attempt = db.get(LoginAttemptRow, key)
            result = db.execute(delete(LoginAttemptRow).where(LoginAttemptRow.state_hash == key))
            consumed = cast(CursorResult[Any], result).rowcount
        if attempt is None or consumed != 1:
            raise LoginRefusedError("state_unknown", "the sign-in state is unknown or was already used")
        if attempt.tenant_id != tenant_id:
            raise LoginRefusedError("state_unknown", "the sign-in state belongs to another tenant")
        if attempt.expires_at < utc_now():
            raise LoginRefusedError("state_expired", "the sign-in took too long; start again")
        if not browser_binding or not hmac.compare_digest(_sha256(browser_binding), attempt.browser_hash):
            raise LoginRefusedError("browser_mismatch", "the sign-in was started in another browser")
        return attempt

    def _open_session(
        self,
        tenant_id: str,
        provider: IdentityProviderRow,
        identity: VerifiedIdentity,
        signed_in: ProviderSignIn,
        next_path: str,
        context: RequestContext,
        replaces: str | None,
    ) -> LoginResult:
        with self._sessions() as db, db.begin():
            tenant = db.get(Tenant, tenant_id)
            if tenant is None or tenant.disabled_at is not None:
                raise LoginRefusedError("tenant_disabled", "this tenant is not active")
            try:
                policy = get_policy(db, tenant_id)
            except SsoConfigError as exc:
                raise LoginRefusedError("policy_invalid", str(exc)) from None
            user, link = sign_in_user(db, self._audit, tenant, provider, identity, policy)
            token, active = self.store.create(
                db,
                user,
                policy,
                signed_in=replace(signed_in, identity_id=link.id),
                ip=context.ip,
                user_agent=context.user_agent,
                replaces=replaces,
            )
            self._audit.append(
                db,
                AuditEvent(
                    tenant=tenant_id,
                    actor=Actor(
                        ActorKind.USER, user.id, email=user.email, ip=context.ip, user_agent=context.user_agent
                    ),
                    action="auth.login.succeeded",
                    target=f"session:{active.public_id}",
                    details={"provider": identity.provider_id, "role": user.role},
                ),
            )
            self.store.refresh_user(db, tenant_id, user.id)  # a role mapped at this login reaches older sessions
        return LoginResult(user, token, active, next_path, identity.provider_id)

    def _record_failure(
        self,
        tenant_id: str,
        provider_id: str | None,
        identity: VerifiedIdentity | None,
        refused: LoginRefusedError,
        context: RequestContext,
    ) -> None:
        actor_id = f"{identity.provider_id}:{identity.subject}" if identity is not None else "anonymous"
        actor = Actor(
            ActorKind.USER,
            actor_id[:200],
            email=identity.email if identity is not None else None,
            ip=context.ip,
            user_agent=context.user_agent,
        )
        with self._sessions() as db, db.begin():
            if db.get(Tenant, tenant_id) is None:
                return  # no such tenant: nothing to record it in
            self._audit.append(
                db,
                AuditEvent(
                    tenant=tenant_id,
                    actor=actor,
                    action="auth.login.failed",
                    outcome=Outcome.DENIED,
                    target=f"sso-provider:{provider_id}" if provider_id else None,
                    reason=refused.reason,
                    details={"message": str(refused)[:300]},
                ),
            )

    # -- logout ----------------------------------------------------------------------------------------
    def logout(
        self, token: str, *, post_logout_redirect_uri: str | None, context: RequestContext = RequestContext()
    ) -> str | None:
        """End the session behind `token` (audited); the provider's end-session URL for an RP-initiated
        logout when the session's provider offers one."""
        active = self.store.lookup(token)
        with self._sessions() as db, db.begin():
            actor = Actor(
                ActorKind.USER,
                active.user_id if active else "anonymous",
                email=active.email if active else None,
                ip=context.ip,
                user_agent=context.user_agent,
            )
            ended = self.store.end(db, self._audit, actor, token)
            provider_id = ended.provider_id if ended is not None else None
            provider_row = db.get(IdentityProviderRow, provider_id) if provider_id else None
        if provider_row is None:
            return None
        try:
            provider = self.provider(provider_row)
            end_session = provider.endpoints().end_session
        except LoginRefusedError:  # the provider is unreachable or no longer allowed: the sign-out stands alone
            return None
        if end_session is None:
            return None
        query = {"client_id": provider.config.client_id}
        if post_logout_redirect_uri:
            query["post_logout_redirect_uri"] = post_logout_redirect_uri
        return f"{end_session}?{urlencode(query)}"
