"""Tenants: create, list, resolve by host name. Creating one is audited in the same transaction."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant
from auth.roles import Role
from tenancy.errors import ConflictError, InvalidRequestError
from tenancy.names import TENANT_NAME_RULE, is_tenant_name

HOSTNAME_REGEX = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
HOSTNAME = re.compile(HOSTNAME_REGEX)  # lowercase, no trailing dot; always `fullmatch`
HOSTNAME_SCHEMA_PATTERN = rf"^{HOSTNAME_REGEX}$"


class TenantError(InvalidRequestError):
    """A tenant request that cannot be carried out; the message says why."""


class TenantConflictError(ConflictError, TenantError):
    """The tenant id or host name is already taken."""


def create_tenant(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    *,
    display_name: str | None = None,
    hostname: str | None = None,
    default_role: Role = Role.VIEWER,
) -> Tenant:
    if not is_tenant_name(tenant_id):
        raise TenantError(f"invalid tenant id: {TENANT_NAME_RULE}")
    if hostname is not None and not HOSTNAME.fullmatch(hostname):
        raise TenantError(f"{hostname!r} is not a valid host name")
    if session.get(Tenant, tenant_id) is not None:
        raise TenantConflictError(f"tenant {tenant_id!r} already exists")
    tenant = Tenant(
        id=tenant_id,
        display_name=display_name or tenant_id,
        hostname=hostname,
        default_role=default_role.value,
        created_at=utc_now(),
    )
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        raise TenantConflictError(f"tenant {tenant_id!r} or host name {hostname!r} is already taken") from None
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="tenant.created",
            target=f"tenant:{tenant_id}",
            details={"hostname": hostname, "default_role": default_role.value},
        ),
    )
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def get_tenant(session: Session, tenant_id: str) -> Tenant | None:
    return session.get(Tenant, tenant_id)


def tenant_for_host(session: Session, hostname: str) -> Tenant | None:
    return session.scalars(select(Tenant).where(Tenant.hostname == hostname.lower())).one_or_none()
