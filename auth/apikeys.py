"""API keys for scripts: `enc_<key id>_<secret>`. The secret is shown once and stored only as its SHA-256
(a 256-bit random secret needs no slow hash); lookups go by key id, comparisons are constant-time.
Creation, revocation and refused uses are audited in the same transaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor, ActorKind, AuditEvent, Outcome, utc_now
from audit.store.log import AuditLog
from auth.models import ApiKey, Tenant
from auth.principal import Principal
from auth.roles import Role

KEY_PREFIX = "enc_"
KEY_PATTERN = re.compile(r"^enc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[\w .@:-]{1,100}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key request that cannot be carried out; the message says why (never echoing a secret)."""


class AuthenticationError(Exception):
    """Credentials were refused. The message is safe to return to the caller."""


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full `enc_...` token: shown once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    *,
    tenant_id: str,
    role: Role,
    name: str,
    ttl: timedelta,
    max_ttl: timedelta,
) -> IssuedKey:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.disabled_at is not None:
        raise ApiKeyError(f"no active tenant {tenant_id!r}")
    if not NAME_PATTERN.match(name):
        raise ApiKeyError("key name must be 1-100 letters, digits, spaces or . @ : _ -")
    if not timedelta(minutes=1) <= ttl <= max_ttl:
        raise ApiKeyError(f"key lifetime must be between 1 minute and {max_ttl.days} days")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = utc_now()
    key = ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        name=name,
        role=role.value,
        secret_hash=_digest(secret),
        created_by=actor.id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(key)
    session.flush()
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="auth.apikey.created",
            target=f"apikey:{key_id}",
            details={"name": name, "role": role.value, "expires_at": key.expires_at.isoformat()},
        ),
    )
    return IssuedKey(key, f"{KEY_PREFIX}{key_id}_{secret}")


def revoke_api_key(session: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:  # another tenant's key is as good as absent
        raise ApiKeyError(f"no API key {key_id!r} in tenant {tenant_id!r}")
    if key.revoked_at is not None:
        raise ApiKeyError(f"API key {key_id!r} is already revoked")
    key.revoked_at = utc_now()
    audit.append(
        session,
        AuditEvent(tenant=tenant_id, actor=actor, action="auth.apikey.revoked", target=f"apikey:{key_id}"),
    )
    return key


def list_api_keys(session: Session, tenant_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)))


def authenticate_api_key(
    session: Session, audit: AuditLog, token: str, *, ip: str | None = None, now: datetime | None = None
) -> Principal:
    """The principal behind `token`, or AuthenticationError. A refused use of a real key id is audited in
    that key's tenant (in this transaction, which the caller commits even though the request fails)."""
    match = KEY_PATTERN.match(token)
    if match is None:
        raise AuthenticationError("malformed API key")
    key_id, secret = match.groups()
    key = session.get(ApiKey, key_id)
    if key is None:
        raise AuthenticationError("unknown API key")
    moment = now or utc_now()
    reason = None
    if not hmac.compare_digest(key.secret_hash, _digest(secret)):
        reason = "wrong secret"
    elif key.revoked_at is not None:
        reason = "revoked"
    elif key.expires_at <= moment:
        reason = "expired"
    if reason is not None:
        audit.append(
            session,
            AuditEvent(
                tenant=key.tenant_id,
                actor=Actor(ActorKind.API_KEY, key_id, ip=ip),
                action="auth.apikey.used.denied",
                outcome=Outcome.DENIED,
                target=f"apikey:{key_id}",
                reason=reason,
            ),
        )
        raise AuthenticationError(f"API key {reason}")
    if key.last_used_at is None or moment - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = moment  # at most one write a minute per key, not one per request
    return Principal(kind=ActorKind.API_KEY, id=key_id, tenant=key.tenant_id, role=Role(key.role))
