"""Offboarding: a person who leaves loses access everywhere at once.

In one transaction (so one audit trail, all or nothing): the user is disabled, every session ends, every API
key they created is revoked. That commits before the identity provider is told, so Enclave access is gone
even when Keycloak is unreachable; the Keycloak step (disable the user, end their Keycloak sessions) follows,
is audited either way, and is safe to repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, AuditEvent, Outcome, utc_now
from audit.store.log import AuditLog
from auth.apikeys import revoke_api_key
from auth.models import ApiKey
from auth.sessions import SessionStore
from auth.users import UserNotFoundError, find_user_by_email

IdpOffboarding = Callable[[str], int]  # email -> accounts disabled at the identity provider


@dataclass(frozen=True)
class OffboardingReport:
    user_id: str
    email: str
    sessions_ended: int
    api_keys_revoked: int
    idp_accounts_disabled: int | None  # None: the tenant's provider is not one Enclave administers


def offboard_locally(
    db: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    tenant_id: str,
    email: str,
    reason: str | None = None,
) -> OffboardingReport:
    """Enclave's part, in the caller's transaction: disable the user, end every session, revoke every API key they
    created (each step audited, then `auth.user.offboarded` with the administrator's `reason`). Safe to repeat."""
    user = find_user_by_email(db, tenant_id, email)
    if user is None:
        raise UserNotFoundError(f"tenant {tenant_id!r} has no user {email}")
    if user.disabled_at is None:
        user.disabled_at = utc_now()
        audit.append(
            db,
            AuditEvent(tenant=tenant_id, actor=actor, action="auth.user.disabled", target=f"user:{user.id}"),
        )
    sessions = store.revoke_all(db, audit, actor, tenant_id=tenant_id, user_id=user.id, reason="offboarding")
    keys = db.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.created_by == user.id, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        revoke_api_key(db, audit, actor, tenant_id=tenant_id, key_id=key.id)
    audit.append(
        db,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="auth.user.offboarded",
            target=f"user:{user.id}",
            reason=reason,
            details={"email": user.email, "sessions_ended": sessions, "api_keys_revoked": len(keys)},
        ),
    )
    return OffboardingReport(user.id, user.email, sessions, len(keys), None)


def offboard_user(
    sessions: sessionmaker[Session],
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    *,
    tenant_id: str,
    email: str,
    idp: IdpOffboarding | None = None,
    reason: str | None = None,
) -> OffboardingReport:
    """Offboard `email` in `tenant_id`; UserError when there is no such user. With `idp` (a Keycloak-backed
    tenant), the provider account is disabled and logged out too; its failure is audited and re-raised after
    Enclave access is already gone."""
    with sessions() as db, db.begin():
        report = offboard_locally(db, audit, actor, store, tenant_id, email, reason)
    if idp is None:
        return report
    disabled = offboard_at_idp(sessions, audit, actor, tenant_id=tenant_id, email=report.email, idp=idp)
    return OffboardingReport(report.user_id, report.email, report.sessions_ended, report.api_keys_revoked, disabled)


def offboard_at_idp(
    sessions: sessionmaker[Session], audit: AuditLog, actor: Actor, *, tenant_id: str, email: str, idp: IdpOffboarding
) -> int:
    """The identity provider's part (Keycloak: disable the account, end its sessions), after Enclave's has
    committed; audited either way, the failure re-raised. Safe to repeat. The accounts disabled."""
    try:
        disabled = idp(email)
    except Exception as exc:
        with sessions() as db, db.begin():
            audit.append(
                db,
                AuditEvent(
                    tenant=tenant_id,
                    actor=actor,
                    action="auth.user.disabled",
                    outcome=Outcome.ERROR,
                    target=f"idp-user:{email}",
                    reason=str(exc)[:300],
                ),
            )
        raise
    with sessions() as db, db.begin():
        audit.append(
            db,
            AuditEvent(
                tenant=tenant_id,
                actor=actor,
                action="auth.user.disabled",
                target=f"idp-user:{email}",
                details={"idp_accounts_disabled": disabled, "idp_sessions_ended": True},
            ),
        )
    return disabled
