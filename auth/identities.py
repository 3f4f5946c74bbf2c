"""Which provider accounts sign in as which user: a user's identities are `(provider, subject)` pairs, never
emails.

An identity is linked three ways: when a JIT user is created at first sign-in, when an invited user who has
never signed in first signs in with an email their provider speaks for (`auth.users.sign_in_user`), and by
customer IT explicitly (`link_identity`: the remedy a refused sign-in names when the account is not the one
the user already signs in with). Every link and unlink is audited; unlinking ends the sessions opened with
that account."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import User
from auth.sessions import SessionStore
from auth.sessions_models import UserSessionRow
from auth.sso.config import GUID, ProviderKind
from auth.sso.models import IdentityProviderRow, UserIdentityRow
from auth.sso.registry import get_provider
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

LINKED = "auth.user.identity.linked"
UNLINKED = "auth.user.identity.unlinked"
SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")  # OpenID Connect Core §2: `sub`, at most 255 ASCII characters
GITHUB_SUBJECT = re.compile(r"[1-9][0-9]{0,19}")  # GitHub's numeric user id
MICROSOFT_SUBJECT = re.compile(rf"({GUID.pattern}):({GUID.pattern})")  # Entra's tenant id : object id


class IdentityError(InvalidRequestError):
    """An identity request that cannot be carried out; the message says why."""


class IdentityNotFoundError(NotFoundError, IdentityError):
    """No such user, provider or link in the tenant."""


class IdentityConflictError(ConflictError, IdentityError):
    """The identity is already linked."""


@dataclass(frozen=True)
class LinkedIdentity:
    """One of a user's identities as lists show it."""

    provider: str  # the provider's name in the tenant
    kind: str
    subject: str
    linked_at: datetime
    last_login_at: datetime | None


def find_link(session: Session, provider_id: str, subject: str) -> UserIdentityRow | None:
    query = select(UserIdentityRow).where(
        UserIdentityRow.provider_id == provider_id, UserIdentityRow.subject == subject
    )
    return session.scalars(query).one_or_none()


def has_links(session: Session, user_id: str) -> bool:
    return bool(session.scalar(select(exists().where(UserIdentityRow.user_id == user_id))))


def add_link(
    session: Session, audit: AuditLog, actor: Actor, user: User, provider: IdentityProviderRow, subject: str, via: str
) -> UserIdentityRow:
    """Link `(provider, subject)` to `user` (audited, in the caller's transaction)."""
    link = UserIdentityRow(
        id=secrets.token_hex(16),
        tenant_id=user.tenant_id,
        user_id=user.id,
        provider_id=provider.id,
        subject=subject,
        created_at=utc_now(),
    )
    session.add(link)
    session.flush()
    audit.append(
        session,
        AuditEvent(
            tenant=user.tenant_id,
            actor=actor,
            action=LINKED,
            target=f"user:{user.id}",
            details={"provider": provider.name, "subject": subject, "via": via},
        ),
    )
    return link


def check_subject(provider: IdentityProviderRow, subject: str) -> str:
    """`subject` as the provider spells its subjects, or IdentityError naming the expected shape."""
    kind = ProviderKind(provider.kind)
    if kind is ProviderKind.GITHUB and not GITHUB_SUBJECT.fullmatch(subject):
        raise IdentityError(f"a GitHub subject is the account's numeric user id, not {subject[:60]!r}")
    if kind is ProviderKind.MICROSOFT:
        match = MICROSOFT_SUBJECT.fullmatch(subject)
        if match is None:
            raise IdentityError("a Microsoft subject is <tenant id>:<object id> (two lower-case GUIDs)")
        if match.group(1) not in provider.options.get("allowed_tenant_ids", []):
            raise IdentityError(f"Entra tenant {match.group(1)} is not allowed by provider {provider.name!r}")
    if not SUBJECT.fullmatch(subject):
        raise IdentityError("a subject is 1-255 printable ASCII characters without spaces")
    return subject


def _user(session: Session, tenant_id: str, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise IdentityNotFoundError(f"no user {user_id!r} in tenant {tenant_id!r}")
    return user


def _provider(session: Session, tenant_id: str, name: str) -> IdentityProviderRow:
    row = get_provider(session, tenant_id, name)
    if row is None:
        raise IdentityNotFoundError(f"tenant {tenant_id!r} has no sign-in provider {name!r}")
    return row


def list_identities(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> list[LinkedIdentity]:
    """A user's identities, by provider name."""
    with sessions() as db:
        _user(db, tenant_id, user_id)
        rows = db.execute(
            select(UserIdentityRow, IdentityProviderRow)
            .join(IdentityProviderRow, IdentityProviderRow.id == UserIdentityRow.provider_id)
            .where(UserIdentityRow.user_id == user_id, UserIdentityRow.tenant_id == tenant_id)
            .order_by(IdentityProviderRow.name, UserIdentityRow.subject)
        ).all()
    return [
        LinkedIdentity(provider.name, provider.kind, link.subject, link.created_at, link.last_login_at)
        for link, provider in rows
    ]


def link_identity(
    sessions: sessionmaker[Session],
    audit: AuditLog,
    actor: Actor,
    *,
    tenant_id: str,
    user_id: str,
    provider: str,
    subject: str,
) -> LinkedIdentity:
    """Customer IT says this provider account is this user: from now on it signs in as them (audited as
    `auth.user.identity.linked`, via "administrator"). IdentityConflictError when the account is already
    linked (to this user, or to another: unlink it there first)."""
    with sessions() as db, db.begin():
        user = _user(db, tenant_id, user_id)
        if user.disabled_at is not None:
            raise IdentityError(f"user {user.email} is disabled")
        row = _provider(db, tenant_id, provider)
        check_subject(row, subject)
        existing = find_link(db, row.id, subject)
        if existing is not None:
            owner = "this user" if existing.user_id == user.id else "another user; unlink it there first"
            raise IdentityConflictError(f"{provider} subject {subject!r} is already linked to {owner}")
        link = add_link(db, audit, actor, user, row, subject, "administrator")
        return LinkedIdentity(row.name, row.kind, link.subject, link.created_at, None)


def unlink_identity(
    sessions: sessionmaker[Session],
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    *,
    tenant_id: str,
    user_id: str,
    provider: str,
    subject: str,
) -> int:
    """The provider account no longer signs in as this user (audited as `auth.user.identity.unlinked`); the
    sessions the user opened with it end. The number of sessions ended."""
    with sessions() as db, db.begin():
        user = _user(db, tenant_id, user_id)
        row = _provider(db, tenant_id, provider)
        link = find_link(db, row.id, subject)
        if link is None or link.user_id != user.id:
            raise IdentityNotFoundError(f"{provider} subject {subject!r} is not linked to {user.email}")
        opened_through = select(UserSessionRow).where(
            UserSessionRow.user_id == user.id,
            UserSessionRow.provider_id == row.id,
            or_(UserSessionRow.identity_id == link.id, UserSessionRow.identity_id.is_(None)),  # None: older rows
        )
        db.delete(link)
        ended = store.revoke_rows(db, audit, actor, list(db.scalars(opened_through)), reason="identity unlinked")
        audit.append(
            db,
            AuditEvent(
                tenant=tenant_id,
                actor=actor,
                action=UNLINKED,
                target=f"user:{user.id}",
                details={"provider": row.name, "subject": subject, "sessions_ended": ended},
            ),
        )
    return ended
