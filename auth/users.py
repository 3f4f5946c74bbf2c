"""Users of a tenant: invited by an administrator or created at first sign-in (JIT) under the tenant's
sign-in policy, linked to provider identities, given roles, and disabled. Each change is audited in the
caller's transaction."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor, ActorKind, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant, User
from auth.roles import ROLE_PERMISSIONS, Role
from auth.sso.config import SignInPolicy
from auth.sso.errors import LoginRefusedError
from auth.sso.models import UserIdentityRow
from auth.sso.providers import VerifiedIdentity
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

# ASCII addresses (the local part as RFC 5322's dot-atom characters); compared in lower case
EMAIL_REGEX = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
EMAIL = re.compile(EMAIL_REGEX)
# When several mapped claim values apply, the most privileged role wins, in this order.
ROLE_PRECEDENCE = (Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR, Role.MEMBER, Role.VIEWER)


class UserError(InvalidRequestError):
    """A user request that cannot be carried out; the message says why."""


class UserNotFoundError(NotFoundError, UserError):
    """No such user in the tenant."""


class UserConflictError(ConflictError, UserError):
    """The tenant already has a user with that email."""


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not EMAIL.fullmatch(value):
        raise UserError(f"{email!r} is not an email address")
    return value


def find_user_by_email(session: Session, tenant_id: str, email: str) -> User | None:
    query = select(User).where(User.tenant_id == tenant_id, User.email == normalise_email(email))
    return session.scalars(query).one_or_none()


def list_users(session: Session, tenant_id: str) -> list[User]:
    return list(session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.email)))


def _user_actor(user: User) -> Actor:
    return Actor(ActorKind.USER, user.id, email=user.email)


def create_user(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    *,
    tenant_id: str,
    email: str,
    role: Role,
    display_name: str | None = None,
    via: str = "invite",
) -> User:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.disabled_at is not None:
        raise UserError(f"no active tenant {tenant_id!r}")
    address = normalise_email(email)
    if find_user_by_email(session, tenant_id, address) is not None:
        raise UserConflictError(f"tenant {tenant_id!r} already has a user {address}")
    user = User(
        id=secrets.token_hex(16),
        tenant_id=tenant_id,
        email=address,
        display_name=display_name,
        role=role.value,
        created_at=utc_now(),
    )
    session.add(user)
    session.flush()
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="auth.user.created",
            target=f"user:{user.id}",
            details={"email": address, "role": role.value, "via": via},
        ),
    )
    return user


def set_role(session: Session, audit: AuditLog, actor: Actor, user: User, role: Role, *, why: str) -> bool:
    """Change a user's role (audited); False when it already was that role."""
    if user.role == role.value:
        return False
    previous, user.role = user.role, role.value
    audit.append(
        session,
        AuditEvent(
            tenant=user.tenant_id,
            actor=actor,
            action="auth.user.role.changed",
            target=f"user:{user.id}",
            details={"from": previous, "to": role.value, "why": why},
        ),
    )
    return True


def grantable_roles(role: Role) -> list[Role]:
    """The roles a user of `role` may give an API key: those that can do nothing the user cannot."""
    return [r for r in Role if ROLE_PERMISSIONS[r] <= ROLE_PERMISSIONS[role]]


def mapped_role(policy: SignInPolicy, claims: dict[str, Any]) -> Role | None:
    """The role the policy's claim mapping gives these claims (the most privileged match), if any."""
    if policy.role_claim is None:
        return None
    values = claims.get(policy.role_claim)
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return None
    granted = {policy.role_map[v] for v in values if isinstance(v, str) and v in policy.role_map}
    return next((role for role in ROLE_PRECEDENCE if role in granted), None)


def _check_email(identity: VerifiedIdentity, policy: SignInPolicy) -> str:
    if identity.email is None or not identity.email_verified:
        raise LoginRefusedError("email_not_verified", "the provider vouches for no verified email address")
    try:
        email = normalise_email(identity.email)
    except UserError:
        raise LoginRefusedError("email_invalid", "the provider's email address is not valid") from None
    domain = email.rsplit("@", 1)[1]
    if policy.allowed_domains and domain not in policy.allowed_domains:
        raise LoginRefusedError("domain_not_allowed", f"accounts from {domain} may not sign in to this tenant")
    return email


def sign_in_user(
    session: Session, audit: AuditLog, tenant: Tenant, identity: VerifiedIdentity, policy: SignInPolicy
) -> User:
    """The user this verified identity signs in as, under the tenant's policy: an existing link, an invited
    user with the same verified email (linked now), or a new user (JIT). LoginRefusedError otherwise."""
    email = _check_email(identity, policy)
    query = select(UserIdentityRow).where(
        UserIdentityRow.provider_id == identity.provider_id, UserIdentityRow.subject == identity.subject
    )
    link = session.scalars(query).one_or_none()
    user = session.get(User, link.user_id) if link is not None else find_user_by_email(session, tenant.id, email)
    if user is not None and user.tenant_id != tenant.id:
        raise LoginRefusedError("unknown_user", "this account belongs to another tenant")
    role = mapped_role(policy, identity.claims)
    if user is None:
        if not policy.jit:
            raise LoginRefusedError("not_invited", "this tenant signs in invited users only")
        user = create_user(
            session,
            audit,
            Actor(ActorKind.SYSTEM, f"sso:{identity.provider_id}"),
            tenant_id=tenant.id,
            email=email,
            role=role or Role(tenant.default_role),
            display_name=identity.name,
            via="jit",
        )
    if user.disabled_at is not None:
        raise LoginRefusedError("user_disabled", "this user has been disabled")
    if role is not None:
        set_role(session, audit, _user_actor(user), user, role, why=f"claim {policy.role_claim}")
    now = utc_now()
    if link is None:
        link = UserIdentityRow(
            id=secrets.token_hex(16),
            tenant_id=tenant.id,
            user_id=user.id,
            provider_id=identity.provider_id,
            subject=identity.subject,
            created_at=now,
        )
        session.add(link)
    link.last_login_at = now
    if identity.name and not user.display_name:
        user.display_name = identity.name
    session.flush()
    return user
