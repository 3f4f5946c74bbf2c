"""SCIM tokens: the credential a tenant's directory (Okta, Entra ID) provisions with, `scim_<id>_<secret>`.

A token holds the `scim` service role: it is accepted on /scim/v2 only, where nothing else is, and it can do
nothing else there. Like an API key, its secret is shown once and stored only as its SHA-256 (a 256-bit random
secret needs no slow hash); lookups go by id, comparisons are constant-time. A token lasts until it is revoked
unless created with a lifetime: a directory whose token expired silently stops deprovisioning leavers.
Rotation issues a new token and keeps the old one for an overlap, so the directory can be switched over without
a gap. Creation, rotation and revocation are audited in the caller's transaction."""

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
from auth.apikeys import NAME_PATTERN, NAME_RULE
from auth.authn import AuthenticationError, Credentials
from auth.models import Tenant
from auth.principal import Principal
from auth.roles import ServiceRole
from auth.scim.models import ScimTokenRow
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError, UnauthenticatedError

SCIM_PREFIX = "scim_"
SCIM_ID_REGEX = r"[0-9a-f]{12}"
SCIM_ID_SCHEMA_PATTERN = rf"^{SCIM_ID_REGEX}$"
SCIM_FORMAT = re.compile(rf"scim_({SCIM_ID_REGEX})_([A-Za-z0-9_-]{{43}})")
DENIED_ACTION = "scim.token.used.denied"
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_OVERLAP = timedelta(days=7)
MISSING_MESSAGE = "missing credentials: send 'Authorization: Bearer <SCIM token>'"


class ScimTokenError(InvalidRequestError):
    """A token request that cannot be carried out; the message says why (never echoing a secret)."""


class ScimTokenNotFoundError(NotFoundError, ScimTokenError):
    """No such token in the tenant (another tenant's is as good as absent)."""


class ScimTokenConflictError(ConflictError, ScimTokenError):
    """The token is not in a state that allows the request (already revoked or expired)."""


@dataclass(frozen=True)
class IssuedScimToken:
    token: ScimTokenRow
    secret: str  # the full `scim_...` token: shown once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_state(token: ScimTokenRow, now: datetime | None = None) -> str:
    """`active`, `expired` or `revoked`."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utc_now()):
        return "expired"
    return "active"


def _issue(session: Session, actor: Actor, tenant_id: str, name: str, expires_at: datetime | None) -> IssuedScimToken:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.disabled_at is not None:
        raise ScimTokenError(f"no active tenant {tenant_id!r}")
    if not (1 <= len(name) <= 100 and NAME_PATTERN.fullmatch(name)):
        raise ScimTokenError(NAME_RULE.replace("key name", "token name"))
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ScimTokenRow(
        id=token_id,
        tenant_id=tenant_id,
        name=name,
        secret_hash=_digest(secret),
        created_by=actor.id,
        created_at=utc_now(),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return IssuedScimToken(token, f"{SCIM_PREFIX}{token_id}_{secret}")


def create_scim_token(
    session: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, name: str, ttl: timedelta | None = None
) -> IssuedScimToken:
    """A new token for the tenant's directory (audited `scim.token.created`); `ttl` None: until revoked."""
    if ttl is not None and ttl < timedelta(days=1):
        raise ScimTokenError("a SCIM token's lifetime is at least 1 day")
    issued = _issue(session, actor, tenant_id, name, None if ttl is None else utc_now() + ttl)
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="scim.token.created",
            target=f"scim-token:{issued.token.id}",
            details={"name": name, "expires_at": _iso(issued.token.expires_at)},
        ),
    )
    return issued


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _token(session: Session, tenant_id: str, token_id: str) -> ScimTokenRow:
    token = session.get(ScimTokenRow, token_id, with_for_update=True)
    if token is None or token.tenant_id != tenant_id:
        raise ScimTokenNotFoundError("no such SCIM token in this tenant")  # never echo: it may be a pasted secret
    return token


def list_scim_tokens(session: Session, tenant_id: str) -> list[ScimTokenRow]:
    query = select(ScimTokenRow).where(ScimTokenRow.tenant_id == tenant_id).order_by(ScimTokenRow.created_at)
    return list(session.scalars(query))


def revoke_scim_token(
    session: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, token_id: str
) -> ScimTokenRow:
    """Revoke a token at once (audited): the directory's next request with it is refused."""
    token = _token(session, tenant_id, token_id)
    if token.revoked_at is not None:
        raise ScimTokenConflictError(f"SCIM token {token_id} is already revoked")
    token.revoked_at = utc_now()
    audit.append(
        session,
        AuditEvent(tenant=tenant_id, actor=actor, action="scim.token.revoked", target=f"scim-token:{token_id}"),
    )
    return token


def rotate_scim_token(
    session: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, token_id: str, overlap: timedelta
) -> IssuedScimToken:
    """A new token with the same name (and remaining lifetime rule) in place of `token_id`, which keeps working
    for `overlap` (at most 7 days; zero revokes it at once) so the directory can be switched over. Audited."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ScimTokenError("the overlap of a rotation is between 0 and 7 days")
    old = _token(session, tenant_id, token_id)
    if token_state(old) != "active":
        raise ScimTokenConflictError(f"SCIM token {token_id} is {token_state(old)}: create a new one instead")
    now = utc_now()
    lifetime = None if old.expires_at is None else old.expires_at - old.created_at
    issued = _issue(session, actor, tenant_id, old.name, None if lifetime is None else now + lifetime)
    old.replaced_by = issued.token.id
    if overlap == timedelta(0):
        old.revoked_at = now
    else:
        old.expires_at = min(old.expires_at or now + overlap, now + overlap)
    audit.append(
        session,
        AuditEvent(
            tenant=tenant_id,
            actor=actor,
            action="scim.token.rotated",
            target=f"scim-token:{token_id}",
            details={
                "replaced_by": f"scim-token:{issued.token.id}",
                "old_token_ends_at": _iso(old.revoked_at or old.expires_at),
                "new_token_expires_at": _iso(issued.token.expires_at),
            },
        ),
    )
    return issued


def scim_actor_id(token_id: str) -> str:
    """How audit records name the directory acting with a token."""
    return f"scim:{token_id}"


def _refused(reason: str, subject: str, tenant: str | None = None) -> AuthenticationError:
    return AuthenticationError(
        reason, subject=subject, tenant=tenant, action=DENIED_ACTION, actor_kind=ActorKind.SYSTEM
    )


def check_scim_token(session: Session, token: str, *, now: datetime | None = None) -> Principal:
    """The directory's principal behind `token`, or AuthenticationError naming the precise reason (for the audit
    record; the client sees one message whatever it is)."""
    match = SCIM_FORMAT.fullmatch(token)
    if match is None:
        raise _refused("malformed SCIM token", "scim")
    token_id, secret = match.groups()
    subject = scim_actor_id(token_id)
    row = session.get(ScimTokenRow, token_id)
    if row is None:
        raise _refused("unknown SCIM token", subject)
    moment = now or utc_now()
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        raise _refused("wrong secret", subject, row.tenant_id)
    state = token_state(row, moment)
    if state != "active":
        raise _refused(state, subject, row.tenant_id)
    if row.last_used_at is None or moment - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = moment  # at most one write a minute per token
    return Principal(
        kind=ActorKind.SYSTEM, id=subject, tenant=row.tenant_id, role=ServiceRole.SCIM, expires_at=row.expires_at
    )


class ScimTokenAuthenticator:
    """The only authenticator of /scim/v2: a SCIM token, nothing else (an API key, the operator token or a session
    cookie is refused there). Checks run in their own transaction (for last-used)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def authenticate(self, credentials: Credentials) -> Principal:
        bearer = credentials.bearer
        if bearer is None:
            raise UnauthenticatedError(MISSING_MESSAGE)
        if not bearer.startswith(SCIM_PREFIX):
            raise _refused("not a SCIM token (API keys and the operator token are not accepted on /scim/v2)", "scim")
        with self._sessions() as session, session.begin():
            return check_scim_token(session, bearer)


class ScimTokenElsewhere:
    """First in the gateway's chain for every other route: a SCIM token is refused there (audited in its tenant
    when it is a real one), and never reaches the operator-token check, which would take any bearer for one."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def authenticate(self, credentials: Credentials) -> Principal | None:
        bearer = credentials.bearer
        if bearer is None or not bearer.startswith(SCIM_PREFIX):
            return None
        with self._sessions() as session, session.begin():
            principal = check_scim_token(session, bearer)
        assert principal.tenant is not None
        raise _refused("a SCIM token is accepted on /scim/v2 only", principal.id, principal.tenant)
