"""A tenant's identity providers and sign-in policy in the database. Every change is audited in the same
transaction; the client secret never reaches an audit record."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.canonical import JsonValue
from audit.events import Actor, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant
from auth.roles import Role
from auth.sso.config import ProviderConfig, ProviderKind, ProviderOptions, SignInPolicy, role_claim_warnings
from auth.sso.errors import ProviderConflictError, ProviderNotFoundError, SsoConfigError
from auth.sso.models import IdentityProviderRow, SignInPolicyRow


def _tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.disabled_at is not None:
        raise SsoConfigError(f"no active tenant {tenant_id!r}")
    return tenant


def config_of(row: IdentityProviderRow) -> ProviderConfig:
    return ProviderConfig(
        name=row.name,
        kind=ProviderKind(row.kind),
        client_id=row.client_id,
        client_secret=SecretStr(row.client_secret) if row.client_secret else None,
        issuer=row.issuer,
        options=ProviderOptions.model_validate(row.options),
    )


def _public_options(config: ProviderConfig) -> dict[str, JsonValue]:
    options: dict[str, Any] = config.options.model_dump(exclude_defaults=True, mode="json")
    return options


def add_provider(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    config: ProviderConfig,
    *,
    allow_insecure_loopback: bool = False,
) -> IdentityProviderRow:
    """Add a provider (audited). A plain-http (loopback) provider only where the deployment allows them."""
    _tenant(session, tenant_id)
    try:
        config.check_transport(allow_insecure_loopback=allow_insecure_loopback)
    except ValueError as exc:
        raise SsoConfigError(str(exc)) from None
    row = IdentityProviderRow(
        id=secrets.token_hex(8),
        tenant_id=tenant_id,
        name=config.name,
        kind=config.kind.value,
        issuer=config.issuer,
        client_id=config.client_id,
        client_secret=config.client_secret.get_secret_value() if config.client_secret else None,
        options=config.options.model_dump(exclude_defaults=True, mode="json"),
        created_at=utc_now(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise ProviderConflictError(f"tenant {tenant_id!r} already has a provider named {config.name!r}") from None
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="sso.provider.added",
            target=f"sso-provider:{config.name}",
            details={
                "kind": config.kind.value,
                "issuer": config.issuer,
                "client_id": config.client_id,
                "options": _public_options(config),
            },
        ),
    )
    return row


def list_providers(session: Session, tenant_id: str) -> list[IdentityProviderRow]:
    query = select(IdentityProviderRow).where(IdentityProviderRow.tenant_id == tenant_id)
    return list(session.scalars(query.order_by(IdentityProviderRow.name)))


def get_provider(session: Session, tenant_id: str, name: str) -> IdentityProviderRow | None:
    query = select(IdentityProviderRow).where(
        IdentityProviderRow.tenant_id == tenant_id, IdentityProviderRow.name == name
    )
    return session.scalars(query).one_or_none()


def replace_provider(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    row: IdentityProviderRow,
    config: ProviderConfig,
    *,
    allow_insecure_loopback: bool = False,
) -> IdentityProviderRow:
    """Give the provider `row` of `tenant_id` a new configuration (its name included) in place: it keeps its id,
    so users keep their links to it. The audit record says what changed, never the client secret. A plain-http
    (loopback) provider only where the deployment allows them."""
    try:
        config.check_transport(allow_insecure_loopback=allow_insecure_loopback)
    except ValueError as exc:
        raise SsoConfigError(str(exc)) from None
    before = config_of(row)
    row.name = config.name
    row.kind = config.kind.value
    row.issuer = config.issuer
    row.client_id = config.client_id
    row.client_secret = config.client_secret.get_secret_value() if config.client_secret else None
    row.options = config.options.model_dump(exclude_defaults=True, mode="json")
    session.flush()
    changed = sorted(
        field
        for field in ("name", "kind", "issuer", "client_id", "client_secret", "options")
        if getattr(before, field) != getattr(config, field)
    )
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="sso.provider.updated",
            target=f"sso-provider:{before.name}",
            details={
                "changed": list(changed),
                "name": config.name,
                "kind": config.kind.value,
                "issuer": config.issuer,
                "client_id": config.client_id,
                "options": _public_options(config),
            },
        ),
    )
    return row


def remove_provider(session: Session, audit: AuditLog, actor: Actor, tenant_id: str, name: str) -> None:
    row = get_provider(session, tenant_id, name)
    if row is None:
        raise ProviderNotFoundError(f"tenant {tenant_id!r} has no provider named {name!r}")
    session.delete(row)
    audit.append(
        session,
        AuditEvent(tenant=tenant_id, actor=actor, action="sso.provider.removed", target=f"sso-provider:{name}"),
    )


def get_policy(session: Session, tenant_id: str) -> SignInPolicy:
    """The tenant's sign-in policy; invite-only with default timeouts until one is set. SsoConfigError when the
    stored policy breaks a rule made since it was set (a role claim users control): nobody signs in under it
    until an administrator sets it again."""
    row = session.get(SignInPolicyRow, tenant_id)
    if row is None:
        return SignInPolicy()
    try:
        return SignInPolicy(
            allowed_domains=tuple(row.allowed_domains),
            jit=row.jit,
            role_claim=row.role_claim,
            role_map={value: Role(role) for value, role in row.role_map.items()},
            idle_timeout_seconds=row.idle_timeout_seconds,
            absolute_timeout_seconds=row.absolute_timeout_seconds,
            revalidate_seconds=row.revalidate_seconds,
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SsoConfigError(f"the sign-in policy of {tenant_id!r} must be set again: {problems}") from None


def policy_warnings(session: Session, tenant_id: str, policy: SignInPolicy | None = None) -> list[str]:
    """What may keep the tenant's role mapping from working with its providers (see `role_claim_warnings`)."""
    configured = [config_of(row) for row in list_providers(session, tenant_id)]
    return role_claim_warnings(policy or get_policy(session, tenant_id), configured)


def set_policy(session: Session, audit: AuditLog, actor: Actor, tenant_id: str, policy: SignInPolicy) -> list[str]:
    """Replace the tenant's policy (audited); the warnings about its role mapping (`policy_warnings`)."""
    _tenant(session, tenant_id)
    row = session.get(SignInPolicyRow, tenant_id)
    if row is None:
        row = SignInPolicyRow(tenant_id=tenant_id)
        session.add(row)
    row.allowed_domains = list(policy.allowed_domains)
    row.jit = policy.jit
    row.role_claim = policy.role_claim
    row.role_map = {value: role.value for value, role in policy.role_map.items()}
    row.idle_timeout_seconds = policy.idle_timeout_seconds
    row.absolute_timeout_seconds = policy.absolute_timeout_seconds
    row.revalidate_seconds = policy.revalidate_seconds
    row.updated_at = utc_now()
    session.flush()
    details: dict[str, JsonValue] = policy.model_dump(mode="json")
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id, actor=actor, action="sso.policy.updated", target=f"tenant:{tenant_id}", details=details
        ),
    )
    return policy_warnings(session, tenant_id, policy)
