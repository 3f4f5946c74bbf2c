"""Users of a tenant and their browser sessions: invite, list, change a role, offboard, end sessions — for a
tenant's `users.admin`, and a signed-in user's own profile and sessions. Role changes and revocations reach
live sessions on every replica at once (auth/sessions.py)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from auth.identities import LinkedIdentity, link_identity, list_identities, unlink_identity
from auth.keycloak import KeycloakAdminError
from auth.models import User
from auth.roles import Permission, Role
from auth.scim.users import release_to_administrators
from auth.sessions import SessionStore
from auth.sessions_models import UserSessionRow
from auth.users import UserNotFoundError, create_user, find_user_by_email, list_users, set_role
from auth.users_offboarding import IdpOffboarding, OffboardingReport, offboard_user
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from tenancy.errors import InvalidRequestError, NotFoundError, UnavailableError

MAX_SEARCH = 200  # characters of a user search
MAX_REASON = 500  # characters of an offboarding reason (the audit record's field holds 512)
IdpOffboardingFor = Callable[[str], IdpOffboarding | None]  # tenant -> the identity provider's offboarding step


def idp_step(idp_offboarding: IdpOffboardingFor, tenant: str) -> IdpOffboarding | None:
    """The tenant's identity-provider step of offboarding (None when Enclave administers no provider of it);
    UnavailableError when it has one Enclave cannot reach (Keycloak without admin credentials)."""
    try:
        return idp_offboarding(tenant)
    except ValueError as exc:
        raise UnavailableError(str(exc)) from None


def idp_unavailable(
    exc: KeycloakAdminError, remedy: str = "offboard them again to finish at Keycloak"
) -> UnavailableError:
    return UnavailableError(f"Enclave access is removed, but {exc}; {remedy}")


@dataclass(frozen=True)
class UserPage:
    """One page of a user search, in email order; `next_after` continues it (None: the last page)."""

    users: list[User]
    matching: int  # how many users match the search in all
    next_after: str | None


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _user(session: Session, tenant: str, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.tenant_id != tenant:
        raise UserNotFoundError(f"no user {user_id!r} in this tenant")
    return user


class Users:
    def __init__(self, runtime: Runtime, store: SessionStore, idp_offboarding: IdpOffboardingFor) -> None:
        self._runtime = runtime
        self._store = store
        self._idp_offboarding = idp_offboarding

    def list(self, access: Access) -> list[User]:
        access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            return list_users(session, access.tenant)

    def page(self, access: Access, *, text: str = "", after: str | None = None, limit: int = 50) -> UserPage:
        """Users whose email or name contains `text` (case-insensitive), in email order after the email `after`:
        keyset paging in SQL, so the ten-thousandth user costs what the first does."""
        access.require(Permission.USERS_ADMIN)
        text = text.strip()
        if len(text) > MAX_SEARCH:
            raise InvalidRequestError(f"a search is at most {MAX_SEARCH} characters")
        where = [User.tenant_id == access.tenant]
        if text:
            pattern = _like(text.lower())
            where.append(
                or_(
                    User.email.like(pattern, escape="\\"),
                    func.lower(User.display_name).like(pattern, escape="\\"),
                )
            )
        with self._runtime.sessions() as session:
            matching = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
            query = select(User).where(*where)
            if after:
                query = query.where(User.email > after)
            users = list(session.scalars(query.order_by(User.email).limit(limit + 1)))
        more = len(users) > limit
        users = users[:limit]
        return UserPage(users, matching, users[-1].email if more else None)

    def get(self, access: Access, user_id: str) -> User:
        """A user of the tenant: anyone's for `users.admin`, otherwise only the caller's own."""
        if access.user_id != user_id:
            access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            return _user(session, access.tenant, user_id)

    def me(self, access: Access) -> User:
        return self.get(access, access.own_user_id())

    def by_email(self, access: Access, email: str) -> User:
        access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            user = find_user_by_email(session, access.tenant, email)
        if user is None:
            raise UserNotFoundError(f"tenant {access.tenant!r} has no user {email}")
        return user

    def invite(self, access: Access, *, email: str, role: Role, display_name: str | None = None) -> User:
        """A user who signs in with any of the tenant's providers (invite-only tenants need one)."""
        access.require(Permission.USERS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            return create_user(
                session,
                self._runtime.audit,
                access.actor,
                tenant_id=access.tenant,
                email=email,
                role=role,
                display_name=display_name,
            )

    def set_role(self, access: Access, user_id: str, role: Role) -> User:
        """Change a user's role (audited); their live sessions carry the new role at once."""
        access.require(Permission.USERS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            user = _user(session, access.tenant, user_id)
            if set_role(session, self._runtime.audit, access.actor, user, role, why="administrator"):
                self._store.refresh_user(session, access.tenant, user.id)
            return user

    def offboard(self, access: Access, user_id: str, reason: str | None = None) -> OffboardingReport:
        """Disable the user, end their sessions and API keys and, for a Keycloak-backed tenant, disable them
        at Keycloak and end their Keycloak sessions (each step audited). UnavailableError when the Keycloak
        step fails after Enclave access is already gone: running it again finishes it. An administrator's
        offboarding is final: the tenant's directory (SCIM) activating the user again does not undo it. The
        administrator's `reason` goes on the `auth.user.offboarded` record."""
        access.require(Permission.USERS_ADMIN)
        if reason is not None and len(reason) > MAX_REASON:
            raise InvalidRequestError(f"a reason is at most {MAX_REASON} characters")
        email = self.get(access, user_id).email
        idp = idp_step(self._idp_offboarding, access.tenant)
        with transaction(self._runtime.sessions) as session:
            release_to_administrators(session, user_id)
        try:
            return offboard_user(
                self._runtime.sessions,
                self._runtime.audit,
                access.actor,
                self._store,
                tenant_id=access.tenant,
                email=email,
                idp=idp,
                reason=reason,
            )
        except KeycloakAdminError as exc:
            raise idp_unavailable(exc) from None

    # -- identities (customer IT links provider accounts to users explicitly) ------------------------------
    def identities(self, access: Access, user_id: str) -> builtins.list[LinkedIdentity]:
        access.require(Permission.USERS_ADMIN)
        return list_identities(self._runtime.sessions, tenant_id=access.tenant, user_id=user_id)

    def link(self, access: Access, user_id: str, *, provider: str, subject: str) -> LinkedIdentity:
        """This provider account is this user from now on (audited `auth.user.identity.linked`)."""
        access.require(Permission.USERS_ADMIN)
        return link_identity(
            self._runtime.sessions,
            self._runtime.audit,
            access.actor,
            tenant_id=access.tenant,
            user_id=user_id,
            provider=provider,
            subject=subject,
        )

    def unlink(self, access: Access, user_id: str, *, provider: str, subject: str) -> int:
        """The provider account no longer signs in as this user; the sessions opened with it end (audited).
        The number of sessions ended."""
        access.require(Permission.USERS_ADMIN)
        return unlink_identity(
            self._runtime.sessions,
            self._runtime.audit,
            access.actor,
            self._store,
            tenant_id=access.tenant,
            user_id=user_id,
            provider=provider,
            subject=subject,
        )

    # -- sessions ----------------------------------------------------------------------------------------
    def sessions(self, access: Access, user_id: str | None = None) -> builtins.list[UserSessionRow]:
        """Live sessions: the caller's own, or (for `users.admin`) any user's of the tenant."""
        if user_id is None:
            user_id = access.own_user_id()
        elif user_id != access.user_id:
            access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            return self._store.list_for_user(session, access.tenant, user_id)

    def end_session(self, access: Access, public_id: str) -> None:
        """End one session: the caller's own, or any of the tenant's for `users.admin` (another user's session
        is as good as absent to anyone else)."""
        with transaction(self._runtime.sessions) as session:
            row = session.scalars(select(UserSessionRow).where(UserSessionRow.public_id == public_id)).one_or_none()
            mine = row is not None and access.user_id is not None and row.user_id == access.user_id
            if row is None or row.tenant_id != access.tenant or not (mine or access.can(Permission.USERS_ADMIN)):
                raise NotFoundError(f"no session {public_id!r}")
            self._store.revoke(
                session,
                self._runtime.audit,
                access.actor,
                tenant_id=access.tenant,
                public_id=public_id,
                reason="revoked by its user" if mine else "revoked by an administrator",
            )

    def end_all_sessions(self, access: Access, user_id: str | None = None) -> int:
        """End every session of the caller (sign out everywhere) or, for `users.admin`, of a user."""
        own = user_id is None or user_id == access.user_id
        if user_id is None:
            user_id = access.own_user_id()
        if not own:
            access.require(Permission.USERS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            _user(session, access.tenant, user_id)
            return self._store.revoke_all(
                session,
                self._runtime.audit,
                access.actor,
                tenant_id=access.tenant,
                user_id=user_id,
                reason="sign out everywhere" if own else "revoked by an administrator",
            )
