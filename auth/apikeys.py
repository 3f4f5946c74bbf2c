"""API keys for scripts: `enc_<key id>_<secret>`. The secret is shown once and stored only as its SHA-256
(a 256-bit random secret needs no slow hash); lookups go by key id, comparisons are constant-time.
Creation and revocation are audited in the same transaction; a refused use is reported to the caller
(`ApiKeyAuthenticator`), which rate-limits and audits it.

A key created by another key (its parent) lives no longer than the parent's remaining lifetime, and
revoking a key revokes every key it created, transitively: a leaked admin key cannot leave heirs behind."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.authn import AuthenticationError, Credentials
from auth.models import ApiKey, Tenant
from auth.principal import Principal
from auth.roles import Role
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

__all__ = [
    "KEY_ID_SCHEMA_PATTERN",
    "KEY_PREFIX",
    "NAME_SCHEMA_PATTERN",
    "ApiKeyAuthenticator",
    "ApiKeyConflictError",
    "ApiKeyError",
    "ApiKeyNotFoundError",
    "AuthenticationError",
    "IssuedKey",
    "authenticate_api_key",
    "check_api_key",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
]

KEY_PREFIX = "enc_"
KEY_ID_REGEX = r"[0-9a-f]{12}"
KEY_PATTERN = re.compile(rf"enc_({KEY_ID_REGEX})_([A-Za-z0-9_-]{{43}})")
NAME_REGEX = r"[\w .@:-]+"
NAME_PATTERN = re.compile(NAME_REGEX)  # with a length of 1 to 100; always `fullmatch`
# For schemas (OpenAPI, pydantic `pattern`): anchored.
KEY_ID_SCHEMA_PATTERN = rf"^{KEY_ID_REGEX}$"
NAME_SCHEMA_PATTERN = rf"^{NAME_REGEX}$"
NAME_RULE = "key name must be 1-100 letters, digits, spaces or . @ : _ -"
LAST_USED_RESOLUTION = timedelta(minutes=1)
MIN_LIFETIME = timedelta(minutes=1)
DENIED_ACTION = "auth.apikey.used.denied"


class ApiKeyError(InvalidRequestError):
    """A key request that cannot be carried out; the message says why (never echoing a secret)."""


class ApiKeyNotFoundError(NotFoundError, ApiKeyError):
    """No such key in the tenant (another tenant's key is as good as absent)."""


class ApiKeyConflictError(ConflictError, ApiKeyError):
    """The key is not in a state that allows the request (e.g. already revoked)."""


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full `enc_...` token: shown once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _lifetime_bound(
    session: Session, tenant_id: str, parent_id: str | None, max_ttl: timedelta, now: datetime
) -> timedelta:
    """The longest lifetime a new key may have: the setting, and no longer than its parent still lives."""
    if parent_id is None:
        return max_ttl
    parent = session.get(ApiKey, parent_id)
    if parent is None or parent.tenant_id != tenant_id or parent.revoked_at is not None:
        raise ApiKeyError("the creating key is not an active key of this tenant")
    return min(max_ttl, parent.expires_at - now)


def _describe(span: timedelta) -> str:
    if span >= timedelta(days=1):
        return f"{span.days} days"
    return f"{max(int(span.total_seconds() // 60), 0)} minutes"


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
    parent_id: str | None = None,
    shorten_to_parent: bool = False,
) -> IssuedKey:
    """A new key. `parent_id` is the key that creates it (when a key does): the new key lives no longer
    than it. A lifetime the caller did not ask for (the default) may be shortened to fit
    (`shorten_to_parent`); an explicit one that does not fit is refused."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.disabled_at is not None:
        raise ApiKeyError(f"no active tenant {tenant_id!r}")
    if not (1 <= len(name) <= 100 and NAME_PATTERN.fullmatch(name)):
        raise ApiKeyError(NAME_RULE)
    now = utc_now()
    bound = _lifetime_bound(session, tenant_id, parent_id, max_ttl, now)
    if shorten_to_parent:
        ttl = min(ttl, bound)
    if ttl < MIN_LIFETIME:
        raise ApiKeyError("key lifetime must be at least 1 minute")
    if ttl > bound:
        who = "the creating key's remaining lifetime" if bound < max_ttl else "the longest allowed"
        raise ApiKeyError(f"key lifetime may not exceed {who}: {_describe(bound)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        name=name,
        role=role.value,
        secret_hash=_digest(secret),
        created_by=actor.id,
        created_at=now,
        expires_at=now + ttl,
        parent_id=parent_id,
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
            details={
                "name": name,
                "role": role.value,
                "expires_at": key.expires_at.isoformat(),
                "parent": None if parent_id is None else f"apikey:{parent_id}",
            },
        ),
    )
    return IssuedKey(key, f"{KEY_PREFIX}{key_id}_{secret}")


def revoke_api_key(session: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, key_id: str) -> ApiKey:
    """Revoke `key_id` and, transitively, every still-active key it created (each revocation audited)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:  # another tenant's key is as good as absent
        raise ApiKeyNotFoundError("no such API key in this tenant")  # never echo: a pasted secret may be here
    if key.revoked_at is not None:
        raise ApiKeyConflictError(f"API key {key_id} is already revoked")
    now = utc_now()
    key.revoked_at = now
    audit.append(
        session,
        AuditEvent(tenant=tenant_id, actor=actor, action="auth.apikey.revoked", target=f"apikey:{key_id}"),
    )
    parents = [key_id]
    while parents:
        children = session.scalars(
            select(ApiKey).where(
                ApiKey.tenant_id == tenant_id, ApiKey.parent_id.in_(parents), ApiKey.revoked_at.is_(None)
            )
        ).all()
        for child in children:
            child.revoked_at = now
            audit.append(
                session,
                AuditEvent(
                    tenant=tenant_id,
                    actor=actor,
                    action="auth.apikey.revoked",
                    target=f"apikey:{child.id}",
                    reason="its parent key was revoked",
                    details={"parent": f"apikey:{child.parent_id}"},
                ),
            )
        parents = [child.id for child in children]
    return key


def list_api_keys(session: Session, tenant_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)))


def check_api_key(session: Session, token: str, *, now: datetime | None = None) -> Principal:
    """The principal behind `token`, or AuthenticationError naming the precise reason (for the audit
    record; the client sees one message whatever the reason)."""
    match = KEY_PATTERN.fullmatch(token)
    if match is None:
        raise AuthenticationError("malformed API key", subject="apikey", action=DENIED_ACTION)
    key_id, secret = match.groups()
    subject = f"apikey:{key_id}"
    key = session.get(ApiKey, key_id)
    if key is None:
        raise AuthenticationError("unknown API key", subject=subject, action=DENIED_ACTION)
    moment = now or utc_now()
    reason = None
    if not hmac.compare_digest(key.secret_hash, _digest(secret)):
        reason = "wrong secret"
    elif key.revoked_at is not None:
        reason = "revoked"
    elif key.expires_at <= moment:
        reason = "expired"
    if reason is not None:
        raise AuthenticationError(reason, subject=subject, tenant=key.tenant_id, action=DENIED_ACTION)
    if key.last_used_at is None or moment - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = moment  # at most one write a minute per key, not one per request
    return Principal(
        kind=ActorKind.API_KEY, id=key_id, tenant=key.tenant_id, role=Role(key.role), expires_at=key.expires_at
    )


def authenticate_api_key(
    session: Session, audit: AuditLog, token: str, *, ip: str | None = None, now: datetime | None = None
) -> Principal:
    """`check_api_key`, recording a refused use of a real key in that key's tenant, in this transaction
    (for callers without a rate limiter in front, such as scripts and tests)."""
    try:
        return check_api_key(session, token, now=now)
    except AuthenticationError as refused:
        event = refused.audit_event(ip=ip, request_id=None)
        if event is not None:
            audit.append(session, event)
        raise


class ApiKeyAuthenticator:
    """API keys in `Authorization: Bearer enc_...`; checks run in their own transaction (for last-used)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def authenticate(self, credentials: Credentials) -> Principal | None:
        bearer = credentials.bearer
        if bearer is None or not bearer.startswith(KEY_PREFIX):
            return None
        with self._sessions() as session, session.begin():
            return check_api_key(session, bearer)
