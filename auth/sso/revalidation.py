"""Re-validation during a session: the identity provider is asked again, every `revalidate_seconds` (the
tenant's policy, one hour by default), whether the session's user still is who and what they were, so a user
disabled, removed from the organisation or signed out at the provider loses Enclave access within that bound.

How the provider is asked depends on what it gave at sign-in (auth/sso/providers.py): an OpenID Provider's
refresh token (a refresh grant, its new ID token validated as at sign-in, userinfo), or GitHub's access token
(the user, email and required organisation and team, again). A provider that gave neither cannot be asked:
such a session simply lasts no longer than the interval (auth/sessions.py), and signing in again asks it.

One replica asks at a time (a lease in the session's row). While it does, the session stays usable for a short
grace; a refusal ends the session at once everywhere (audited, with the provider's reason); a provider that
cannot be reached leaves the session refused until it can be, retried at most every `RETRY_AFTER`. What
the provider answers also re-applies the tenant's policy: the identity must still be linked to the user, a
verified email must still be in an allowed domain, and a mapped role is recomputed (the change reaches every
live session of the user)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind
from audit.store.log import AuditLog
from auth.models import Tenant, User
from auth.sessions import ActiveSession, SessionStore
from auth.sessions_models import UserSessionRow
from auth.sso.clients import ProviderClients
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError, SsoConfigError
from auth.sso.models import IdentityProviderRow, UserIdentityRow
from auth.sso.providers import Revalidated
from auth.sso.registry import get_policy
from auth.users import apply_role_claim, check_allowed_domain

logger = logging.getLogger("enclave.sso")
GRACE = timedelta(seconds=60)  # a due session stays usable this long while another request asks the provider
RETRY_AFTER = timedelta(seconds=30)  # a provider that could not be asked is asked again after this


@dataclass(frozen=True)
class _Due:
    """What asking the provider needs, read from the session's row."""

    provider: IdentityProviderRow
    link: UserIdentityRow
    credential: str
    nonce_hash: str | None


class SessionRevalidator:
    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog, clients: ProviderClients) -> None:
        self._sessions = sessions
        self._audit = audit
        self._clients = clients

    def revalidate(
        self, store: SessionStore, key: str, active: ActiveSession, moment: datetime
    ) -> ActiveSession | None:
        if not self._claim(key, moment):
            # another request is asking the provider now, or could not reach it moments ago
            was_due = active.revalidate_at
            return active if was_due is not None and moment < was_due + GRACE else None
        try:
            due = self._due(key)
            answer = self._clients.get(due.provider).revalidate(due.credential, due.nonce_hash)
            if answer.identity.subject != due.link.subject:
                raise LoginRefusedError("sub_mismatch", "the provider now answers for another account")
            return self._accept(store, key, due, answer, moment)
        except ProviderUnavailableError as exc:
            logger.warning("session re-validation could not ask the provider", extra={"reason": str(exc)[:200]})
            self._overdue(store, key, moment)
            return None  # refused until the provider answers; asked again after RETRY_AFTER
        except LoginRefusedError as refused:
            self._refuse(store, key, refused)
            return None

    def _claim(self, key: str, moment: datetime) -> bool:
        """Whether this request is the one to ask the provider (at most one at a time, across replicas)."""
        row = UserSessionRow
        with self._sessions() as db, db.begin():
            result = db.execute(
                update(row)
                .where(
                    row.id == key,
                    row.revoked_at.is_(None),
                    row.revalidate_at <= moment,
                    or_(row.revalidating_until.is_(None), row.revalidating_until <= moment),
                )
                .values(revalidating_until=moment + RETRY_AFTER)
            )
        return cast(CursorResult[Any], result).rowcount == 1

    def _overdue(self, store: SessionStore, key: str, moment: datetime) -> None:
        """The provider could not be asked: the session is past its grace everywhere until it can be."""
        row = UserSessionRow
        with self._sessions() as db, db.begin():
            db.execute(update(row).where(row.id == key).values(revalidate_at=moment - GRACE))
        store.forget_hot_copy(key)

    def _due(self, key: str) -> _Due:
        with self._sessions() as db:
            row = db.get(UserSessionRow, key)
            if row is None or row.revoked_at is not None:
                raise LoginRefusedError("session_ended", "the session has ended")
            provider = db.get(IdentityProviderRow, row.provider_id) if row.provider_id else None
            if provider is None or provider.tenant_id != row.tenant_id:
                raise LoginRefusedError("unknown_provider", "the session's sign-in provider was removed")
            link = db.get(UserIdentityRow, row.identity_id) if row.identity_id else None
            if link is None or link.user_id != row.user_id or link.provider_id != provider.id:
                raise LoginRefusedError("identity_unlinked", "the account the session signed in with is unlinked")
            if row.idp_token is None:
                raise LoginRefusedError(
                    "reauthentication_required", "the session cannot be re-validated with its provider"
                )
            return _Due(provider, link, row.idp_token, row.nonce_hash)

    def _accept(
        self, store: SessionStore, key: str, due: _Due, answer: Revalidated, moment: datetime
    ) -> ActiveSession | None:
        actor = Actor(ActorKind.SYSTEM, f"sso:{due.provider.name}")
        with self._sessions() as db, db.begin():
            row = db.get(UserSessionRow, key)
            user = db.get(User, row.user_id) if row is not None else None
            tenant = db.get(Tenant, row.tenant_id) if row is not None else None
            if row is None or row.revoked_at is not None or user is None or tenant is None:
                return None
            try:
                policy = get_policy(db, tenant.id)
            except SsoConfigError as exc:
                raise LoginRefusedError("policy_invalid", str(exc)) from None
            if user.disabled_at is not None or tenant.disabled_at is not None:
                raise LoginRefusedError("user_disabled", "the user or the tenant has been disabled")
            check_allowed_domain(answer.identity, policy)
            if apply_role_claim(db, self._audit, actor, tenant, user, answer.identity, policy):
                store.refresh_user(db, tenant.id, user.id)
            row.idp_token = answer.credential
            row.revalidate_at = moment + timedelta(seconds=policy.revalidate_seconds)
            row.revalidating_until = None
            if row.revalidate_at >= row.expires_at:
                row.revalidate_at, row.idp_token = None, None  # the session ends before it is due again
        return store.reload(key, moment)

    def _refuse(self, store: SessionStore, key: str, refused: LoginRefusedError) -> None:
        """End the session everywhere, audited with the provider's reason."""
        with self._sessions() as db, db.begin():
            row = db.get(UserSessionRow, key)
            if row is None or row.revoked_at is not None:
                return
            provider = db.get(IdentityProviderRow, row.provider_id) if row.provider_id else None
            actor = Actor(ActorKind.SYSTEM, f"sso:{provider.name if provider else row.provider_id}")
            store.revoke_rows(db, self._audit, actor, [row], reason=f"re-validation: {refused.reason}")
        logger.info("session ended at re-validation", extra={"reason": refused.reason})
