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
from auth.identities import add_link, find_link, has_links
from auth.models import Tenant, User
from auth.roles import ROLE_PERMISSIONS, Role
from auth.scim.membership import directory_groups
from auth.sso.config import SignInPolicy
from auth.sso.errors import LoginRefusedError
from auth.sso.models import IdentityProviderRow, UserIdentityRow
from auth.sso.providers import VerifiedIdentity
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

# ASCII addresses (the local part as RFC 5322's dot-atom characters); compared in lower case
EMAIL_REGEX = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
EMAIL = re.compile(EMAIL_REGEX)
# When several mapped claim values apply, the most privileged role wins, in this order.
ROLE_PRECEDENCE = (Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR, Role.MEMBER, Role.VIEWER)
MAX_CLAIM_VALUES = 500  # a user in more groups than this is read from the first 500


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


def claim_values(claims: dict[str, Any], claim: str) -> list[str] | None:
    """The string values of a claim (one string or a list of them), None when the token does not carry it. A
    dotted name reaches into objects when no claim has that exact name (Keycloak's `realm_access.roles`)."""
    value = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value[:MAX_CLAIM_VALUES] if isinstance(v, str)]
    return None


def mapped_role(policy: SignInPolicy, values: list[str] | None, default: Role, source: str) -> tuple[Role, str] | None:
    """The role the policy's mapping gives these values (claim values, or directory group names) and why; None when
    the policy maps nothing (the user's role is then the administrators' to set). The most privileged mapped value
    wins; no mapped value, or none at all, is the default role: a group the user left takes its role with it."""
    if policy.role_claim is None:
        return None
    if values is None:
        return default, f"{source} absent: the default role"
    granted = {policy.role_map[v] for v in values if v in policy.role_map}
    role = next((r for r in ROLE_PRECEDENCE if r in granted), None)
    if role is None:
        return default, f"{source} maps to no role: the default role"
    return role, f"{source} maps to {role.value}"


def policy_role(policy: SignInPolicy, claims: dict[str, Any], default: Role) -> tuple[Role, str] | None:
    """The role the policy's claim mapping gives these claims and why (`mapped_role`)."""
    claim = policy.role_claim
    if claim is None:
        return None
    return mapped_role(policy, claim_values(claims, claim), default, f"claim {claim}")


def user_role(
    session: Session, policy: SignInPolicy, tenant: Tenant, user_id: str, claims: dict[str, Any]
) -> tuple[Role, str] | None:
    """The role a user's sign-in gives them. A user the tenant's directory provisions, in a tenant whose directory
    pushes groups, takes it from the directory's groups (their displayNames are the mapped values): the directory
    tells Enclave at once when someone leaves a group, so a token's claims never give back what it took away.
    Everyone else takes it from the claims."""
    groups = directory_groups(session, tenant.id, user_id)
    default = Role(tenant.default_role)
    if groups is not None:
        return mapped_role(policy, groups, default, "directory group membership")
    return policy_role(policy, claims, default)


def _check_domain(email: str, policy: SignInPolicy) -> None:
    domain = email.rsplit("@", 1)[-1].lower()
    if policy.allowed_domains and domain not in policy.allowed_domains:
        raise LoginRefusedError("domain_not_allowed", f"accounts from {domain} may not sign in to this tenant")


def _check_email(identity: VerifiedIdentity, policy: SignInPolicy) -> str:
    if identity.email is None or not identity.email_verified:
        raise LoginRefusedError("email_not_verified", "the provider vouches for no verified email address")
    try:
        email = normalise_email(identity.email)
    except UserError:
        raise LoginRefusedError("email_invalid", "the provider's email address is not valid") from None
    _check_domain(email, policy)
    return email


def check_allowed_domain(identity: VerifiedIdentity, policy: SignInPolicy) -> None:
    """During a session: a verified email the provider now reports must still be in an allowed domain (a
    provider that reports none, as some refreshes do, leaves the sign-in's check standing)."""
    if identity.email is not None and identity.email_verified:
        _check_domain(identity.email, policy)


def _link_remedy(provider: IdentityProviderRow, identity: VerifiedIdentity, email: str) -> str:
    return f"ask your administrator to link this {provider.name} account (subject {identity.subject[:100]}) to {email}"


def _claim_or_create(
    session: Session,
    audit: AuditLog,
    tenant: Tenant,
    provider: IdentityProviderRow,
    identity: VerifiedIdentity,
    policy: SignInPolicy,
    email: str,
) -> tuple[User, UserIdentityRow]:
    """The user a not-yet-linked identity becomes: an invitation it may claim, or a new user (JIT)."""
    system = Actor(ActorKind.SYSTEM, f"sso:{provider.name}")
    existing = find_user_by_email(session, tenant.id, email)
    if existing is None:
        if not policy.jit:
            raise LoginRefusedError("not_invited", "this tenant signs in invited users only")
        computed = policy_role(policy, identity.claims, Role(tenant.default_role))
        user = create_user(
            session,
            audit,
            system,
            tenant_id=tenant.id,
            email=email,
            role=computed[0] if computed else Role(tenant.default_role),
            display_name=identity.name,
            via="jit",
        )
        return user, add_link(session, audit, system, user, provider, identity.subject, "jit")
    if existing.disabled_at is not None:
        raise LoginRefusedError("user_disabled", "this user has been disabled")
    if existing.first_sign_in_at is not None or has_links(session, existing.id):
        raise LoginRefusedError(
            "identity_not_linked",
            f"{email} already signs in with another account; {_link_remedy(provider, identity, email)}",
        )
    if not identity.email_authoritative:
        raise LoginRefusedError(
            "email_not_authoritative",
            f"{provider.name} verified {email} once but does not speak for its domain, so it cannot claim the "
            f"invitation; {_link_remedy(provider, identity, email)}",
        )
    return existing, add_link(session, audit, system, existing, provider, identity.subject, "invitation")


def sign_in_user(
    session: Session,
    audit: AuditLog,
    tenant: Tenant,
    provider: IdentityProviderRow,
    identity: VerifiedIdentity,
    policy: SignInPolicy,
) -> tuple[User, UserIdentityRow]:
    """The user this verified identity signs in as, under the tenant's policy, and the identity's link.

    Identity is `(provider, subject)`: a linked identity signs in as its user. An identity not linked yet may
    claim an invited user with the same email only while that user has never signed in and has no identity,
    and only with an email its provider speaks for; otherwise it may become a new user (JIT) only when no
    user has that email. Everything else is refused with the remedy: an administrator links the account
    (`auth.identities.link_identity`). LoginRefusedError for every refusal."""
    email = _check_email(identity, policy)
    link = find_link(session, provider.id, identity.subject)
    if link is None:
        user, link = _claim_or_create(session, audit, tenant, provider, identity, policy, email)
    else:
        found = session.get(User, link.user_id)
        if found is None or found.tenant_id != tenant.id:
            raise LoginRefusedError("unknown_user", "this account belongs to another tenant")
        user = found
    if user.disabled_at is not None:
        raise LoginRefusedError("user_disabled", "this user has been disabled")
    apply_role_claim(session, audit, Actor(ActorKind.SYSTEM, f"sso:{provider.name}"), tenant, user, identity, policy)
    now = utc_now()
    link.last_login_at = now
    if user.first_sign_in_at is None:
        user.first_sign_in_at = now
    if identity.name and not user.display_name:
        user.display_name = identity.name
    session.flush()
    return user, link


def apply_role_claim(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant: Tenant,
    user: User,
    identity: VerifiedIdentity,
    policy: SignInPolicy,
) -> bool:
    """With a role mapping configured, the user's role is what it maps to now (`user_role`: the claims, or the
    directory's groups), audited as a role change with the reason; whether it changed. The caller refreshes the
    user's live sessions."""
    computed = user_role(session, policy, tenant, user.id, identity.claims)
    if computed is None:
        return False
    role, why = computed
    return set_role(session, audit, actor, user, role, why=why)
