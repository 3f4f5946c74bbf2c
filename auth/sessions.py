"""Server-side browser sessions with idle and absolute timeouts, rotation at login, revocation of one or all,
and re-validation with the identity provider.

The database row is the truth (listing, revocation, audit). When the gateway's cache is shared by every
replica (Redis), it also holds a hot copy of each live session and a tombstone for each revoked one, written
before the revocation commits: every replica sees a revocation at once. Without a shared cache (the embedded
in-process default) every lookup reads the database, so a revocation made by another process (the CLI) is
seen at once too. The token is 256 random bits; only its SHA-256 is stored anywhere.

Idle time counts from the last real use. The database's last-seen time is written at most once a minute, so
it may lag the last use by up to that minute; the store also remembers each use it sees (and, with a shared
cache, tells the other replicas every few seconds), and a session whose recorded last-seen time says "idle"
is checked against that before it is refused.

A session opened through a provider that can be asked again (a refresh token, GitHub's API) carries a time at
which it must be: the store then hands it to its `SessionRevalidation` before letting it be used. Without one
(or when the provider cannot be asked) the session is refused: closed by default."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import User
from auth.principal import Principal
from auth.roles import Role
from auth.sessions_models import UserSessionRow
from auth.sso.config import SignInPolicy
from tenancy.errors import ConflictError, InvalidRequestError, NotFoundError

TOUCH_RESOLUTION = timedelta(seconds=60)  # last-seen is written at most once a minute per session
SEEN_RESOLUTION = timedelta(seconds=5)  # a use is told to the other replicas at most this often per session
MAX_REMEMBERED_USES = 100_000  # uses this process remembers; past it the oldest are forgotten
TOKEN_BYTES = 32
_TOMBSTONE = b"revoked"
_RELOAD = b"reload"
_PREFIX = "enclave:session:"
_SEEN_PREFIX = "enclave:session-seen:"


class SharedCache(Protocol):
    """The part of the gateway's cache sessions use (enclave.cache.RedisCache fits)."""

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...


class SessionRevalidation(Protocol):
    """Asks the session's identity provider whether its user still is who and what they were
    (auth/sso/revalidation.py). The session as it may be used now, or None."""

    def revalidate(
        self, store: SessionStore, key: str, active: ActiveSession, moment: datetime
    ) -> ActiveSession | None: ...


class SessionError(InvalidRequestError):
    """A session request that cannot be carried out; the message says why."""


class SessionNotFoundError(NotFoundError, SessionError):
    """No such session in the tenant."""


class SessionEndedError(ConflictError, SessionError):
    """The session has already ended."""


@dataclass(frozen=True)
class ActiveSession:
    """A live session as a request sees it."""

    public_id: str
    tenant: str
    user_id: str
    email: str
    role: Role
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_timeout_seconds: int
    revalidate_at: datetime | None = None  # when the identity provider must be asked again

    def principal(self) -> Principal:
        return Principal(
            kind=ActorKind.USER,
            id=self.user_id,
            tenant=self.tenant,
            role=self.role,
            email=self.email,
            session=self.public_id,
            csrf_token=self.csrf_token,
        )

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "p": self.public_id,
                "t": self.tenant,
                "u": self.user_id,
                "e": self.email,
                "r": self.role.value,
                "c": self.csrf_token,
                "a": self.created_at.timestamp(),
                "s": self.last_seen_at.timestamp(),
                "x": self.expires_at.timestamp(),
                "i": self.idle_timeout_seconds,
                "v": self.revalidate_at.timestamp() if self.revalidate_at else None,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ActiveSession:
        d = json.loads(data)
        return cls(
            public_id=d["p"],
            tenant=d["t"],
            user_id=d["u"],
            email=d["e"],
            role=Role(d["r"]),
            csrf_token=d["c"],
            created_at=datetime.fromtimestamp(d["a"], UTC),
            last_seen_at=datetime.fromtimestamp(d["s"], UTC),
            expires_at=datetime.fromtimestamp(d["x"], UTC),
            idle_timeout_seconds=d["i"],
            revalidate_at=datetime.fromtimestamp(d["v"], UTC) if d.get("v") is not None else None,
        )

    def idle_since(self, now: datetime) -> bool:
        """Idle too long by the recorded last-seen time (which may lag the last use: see the module doc)."""
        return now - self.last_seen_at >= timedelta(seconds=self.idle_timeout_seconds)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _active(row: UserSessionRow, user: User) -> ActiveSession:
    return ActiveSession(
        public_id=row.public_id,
        tenant=row.tenant_id,
        user_id=row.user_id,
        email=user.email,
        role=Role(user.role),
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        idle_timeout_seconds=row.idle_timeout_seconds,
        revalidate_at=row.revalidate_at,
    )


@dataclass(frozen=True)
class ProviderSignIn:
    """What a session opened through an identity provider keeps (see UserSessionRow)."""

    provider_id: str
    identity_id: str | None = None
    idp_session_id: str | None = None
    nonce_hash: str | None = None
    credential: str | None = None  # refresh token / access token re-validation asks with; None: it cannot


_LIVE_SESSION = (  # built once: composing the statement costs more than running it
    select(
        UserSessionRow.public_id,
        UserSessionRow.tenant_id,
        UserSessionRow.user_id,
        UserSessionRow.csrf_token,
        UserSessionRow.created_at,
        UserSessionRow.last_seen_at,
        UserSessionRow.expires_at,
        UserSessionRow.idle_timeout_seconds,
        UserSessionRow.revalidate_at,
        User.email,
        User.role,
    )
    .join(User, User.id == UserSessionRow.user_id)
    .where(UserSessionRow.id == bindparam("key"), UserSessionRow.revoked_at.is_(None), User.disabled_at.is_(None))
)


class SessionStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        shared_cache: SharedCache | None = None,
        revalidation: SessionRevalidation | None = None,
    ) -> None:
        self._sessions = sessions
        self._cache = shared_cache
        self._revalidation = revalidation
        self._uses: OrderedDict[str, datetime] = OrderedDict()  # session key -> last use this process saw
        self._uses_lock = threading.Lock()

    # -- the hot copy ----------------------------------------------------------------------------------
    def _put(self, key: str, value: bytes, ttl: timedelta) -> None:
        if self._cache is not None:
            self._cache.set(_PREFIX + key, value, max(int(ttl.total_seconds()) + 1, 1))

    def _cached(self, key: str, prefix: str = _PREFIX) -> bytes | None:
        if self._cache is None:
            return None
        try:
            return self._cache.get(prefix + key)
        except Exception:  # the cache is down: the database still answers, and it is the truth
            return None

    # -- real use --------------------------------------------------------------------------------------
    def _note_use(self, key: str, moment: datetime, idle_timeout_seconds: int) -> None:
        with self._uses_lock:
            previous = self._uses.pop(key, None)
            self._uses[key] = max(moment, previous) if previous else moment
            if len(self._uses) > MAX_REMEMBERED_USES:
                self._uses.popitem(last=False)
        if self._cache is None or (previous is not None and moment - previous < SEEN_RESOLUTION):
            return
        try:  # only ever lengthens a session's idle life: losing it costs at most the touch resolution
            self._cache.set(_SEEN_PREFIX + key, str(moment.timestamp()).encode(), idle_timeout_seconds + 1)
        except Exception:
            return

    def _last_use(self, key: str, recorded: datetime) -> datetime:
        """The latest use of the session any replica has told of (never earlier than the recorded one)."""
        with self._uses_lock:
            latest = max(recorded, self._uses.get(key, recorded))
        shared = self._cached(key, _SEEN_PREFIX)
        if shared is not None:
            with contextlib.suppress(ValueError):
                latest = max(latest, datetime.fromtimestamp(float(shared), UTC))
        return latest

    def _expired(self, key: str, active: ActiveSession, moment: datetime) -> bool:
        if moment >= active.expires_at:
            return True
        if not active.idle_since(moment):
            return False
        idle = timedelta(seconds=active.idle_timeout_seconds)
        return moment - self._last_use(key, active.last_seen_at) >= idle

    # -- create ----------------------------------------------------------------------------------------
    def create(
        self,
        db: Session,
        user: User,
        policy: SignInPolicy,
        *,
        provider_id: str | None = None,
        signed_in: ProviderSignIn | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        replaces: str | None = None,
    ) -> tuple[str, ActiveSession]:
        """A new session for `user` (its token, shown once, and its state). The session the browser held
        before (`replaces`) ends: a session id is never carried across a login (fixation).

        A session opened through a provider (`signed_in`) is re-validated with it every
        `policy.revalidate_seconds` when the provider gave a credential to ask with; when it gave none, the
        session lasts no longer than that (the user signs in again, which asks the provider)."""
        if replaces is not None:
            old = db.get(UserSessionRow, token_hash(replaces))
            if old is not None and old.revoked_at is None:
                self._end(db, old, "replaced at login")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = utc_now()
        expires_at = now + timedelta(seconds=policy.absolute_timeout_seconds)
        recheck = now + timedelta(seconds=policy.revalidate_seconds)
        revalidate_at = None
        if signed_in is not None:
            provider_id = signed_in.provider_id
            if signed_in.credential is not None:
                revalidate_at = recheck if recheck < expires_at else None
            else:
                expires_at = min(expires_at, recheck)
        row = UserSessionRow(
            id=token_hash(token),
            public_id=secrets.token_hex(8),
            tenant_id=user.tenant_id,
            user_id=user.id,
            provider_id=provider_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            idle_timeout_seconds=policy.idle_timeout_seconds,
            ip=ip[:64] if ip else None,
            user_agent=user_agent[:300] if user_agent else None,
            identity_id=signed_in.identity_id if signed_in else None,
            idp_session_id=signed_in.idp_session_id if signed_in else None,
            nonce_hash=signed_in.nonce_hash if signed_in else None,
            idp_token=signed_in.credential if signed_in and revalidate_at else None,
            revalidate_at=revalidate_at,
        )
        db.add(row)
        db.flush()  # no hot copy yet: the first lookup makes one, once this transaction has committed
        return token, _active(row, user)

    # -- lookup ----------------------------------------------------------------------------------------
    def lookup(self, token: str, now: datetime | None = None) -> ActiveSession | None:
        """The live session behind `token`, or None (unknown, revoked, idle too long, past its limit, its
        user disabled, or refused by its identity provider when it was due to be asked again). A lookup is a
        use of the session."""
        if not token or len(token) > 100:
            return None
        key = token_hash(token)
        moment = now or utc_now()
        active = self._live(key, moment)
        if active is None:
            return None
        self._note_use(key, moment, active.idle_timeout_seconds)
        if active.revalidate_at is not None and moment >= active.revalidate_at:
            if self._revalidation is None:
                return None  # nobody here can ask the provider: closed
            return self._revalidation.revalidate(self, key, active, moment)
        return active

    def _live(self, key: str, moment: datetime) -> ActiveSession | None:
        cached = self._cached(key)
        if cached == _TOMBSTONE:
            return None
        if cached is not None and cached != _RELOAD:
            active = ActiveSession.from_bytes(cached)
            if self._expired(key, active, moment):
                return None
            if moment - active.last_seen_at < TOUCH_RESOLUTION:
                return active
        return self._lookup_database(key, moment)

    def forget_hot_copy(self, key: str) -> None:
        """The next lookup on any replica reads the session from the database."""
        self._put(key, _RELOAD, TOUCH_RESOLUTION)  # replaces the hot copy; gone, the database is read anyway

    def reload(self, key: str, moment: datetime) -> ActiveSession | None:
        """The session as the database has it now (after a re-validation changed it), hot copy replaced."""
        return self._lookup_database(key, moment)

    def _lookup_database(self, key: str, moment: datetime) -> ActiveSession | None:
        row = UserSessionRow
        with self._sessions() as db:
            found = db.connection().execute(_LIVE_SESSION, {"key": key}).one_or_none()
        if found is None:
            return None
        active = ActiveSession(
            public_id=found.public_id,
            tenant=found.tenant_id,
            user_id=found.user_id,
            email=found.email,
            role=Role(found.role),
            csrf_token=found.csrf_token,
            created_at=found.created_at,
            last_seen_at=found.last_seen_at,
            expires_at=found.expires_at,
            idle_timeout_seconds=found.idle_timeout_seconds,
            revalidate_at=found.revalidate_at,
        )
        if self._expired(key, active, moment):
            return None
        if moment - active.last_seen_at >= TOUCH_RESOLUTION:  # at most one write a minute per session
            with self._sessions() as db, db.begin():
                db.execute(update(row).where(row.id == key).values(last_seen_at=moment))
            active = replace(active, last_seen_at=moment)
        remaining = min(active.expires_at - moment, timedelta(seconds=active.idle_timeout_seconds))
        self._put(key, active.to_bytes(), remaining)
        return active

    # -- list and revoke -------------------------------------------------------------------------------
    def list_for_user(
        self, db: Session, tenant_id: str, user_id: str, now: datetime | None = None
    ) -> list[UserSessionRow]:
        moment = now or utc_now()
        query = select(UserSessionRow).where(
            UserSessionRow.tenant_id == tenant_id,
            UserSessionRow.user_id == user_id,
            UserSessionRow.revoked_at.is_(None),
            UserSessionRow.expires_at > moment,
        )
        rows = db.scalars(query.order_by(UserSessionRow.created_at)).all()
        return [
            r for r in rows if moment - self._last_use(r.id, r.last_seen_at) < timedelta(seconds=r.idle_timeout_seconds)
        ]

    def _end(self, db: Session, row: UserSessionRow, reason: str) -> None:
        # the tombstone goes first: if the cache cannot take it the revocation fails (and rolls back) rather
        # than leaving a hot copy alive on other replicas
        self._put(row.id, _TOMBSTONE, row.expires_at - utc_now() + TOUCH_RESOLUTION)
        row.revoked_at = utc_now()
        row.revoked_reason = reason[:100]
        row.idp_token = None  # an ended session never asks its provider again

    def end(self, db: Session, audit: AuditLog, actor: Actor, token: str) -> UserSessionRow | None:
        """Sign out the session behind `token` (audited as a logout); the ended row, if one was live."""
        row = db.get(UserSessionRow, token_hash(token))
        if row is None or row.revoked_at is not None:
            return None
        self._end(db, row, "logout")
        audit.append(
            db,
            AuditEvent(tenant=row.tenant_id, actor=actor, action="auth.logout", target=f"session:{row.public_id}"),
        )
        return row

    def revoke(
        self, db: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, public_id: str, reason: str
    ) -> None:
        query = select(UserSessionRow).where(UserSessionRow.public_id == public_id)
        row = db.scalars(query).one_or_none()
        if row is None or row.tenant_id != tenant_id:  # another tenant's session is as good as absent
            raise SessionNotFoundError(f"no session {public_id!r} in tenant {tenant_id!r}")
        if row.revoked_at is not None:
            raise SessionEndedError(f"session {public_id!r} has already ended")
        self._end(db, row, reason)
        audit.append(
            db,
            AuditEvent(
                tenant=tenant_id,
                actor=actor,
                action="auth.session.revoked",
                target=f"session:{public_id}",
                reason=reason,
                details={"user": row.user_id},
            ),
        )

    def revoke_all(
        self, db: Session, audit: AuditLog, actor: Actor, *, tenant_id: str, user_id: str, reason: str
    ) -> int:
        """End every session of a user ("sign out everywhere", offboarding); the count ended."""
        query = select(UserSessionRow).where(
            UserSessionRow.tenant_id == tenant_id,
            UserSessionRow.user_id == user_id,
            UserSessionRow.revoked_at.is_(None),
        )
        return self.revoke_rows(db, audit, actor, list(db.scalars(query)), reason=reason)

    def revoke_rows(
        self, db: Session, audit: AuditLog, actor: Actor, rows: list[UserSessionRow], *, reason: str
    ) -> int:
        """End these live sessions, audited as one revocation per user; the count ended."""
        live = [row for row in rows if row.revoked_at is None]
        by_user: dict[tuple[str, str], list[UserSessionRow]] = {}
        for row in live:
            self._end(db, row, reason)
            by_user.setdefault((row.tenant_id, row.user_id), []).append(row)
        for (tenant_id, user_id), ended in by_user.items():
            audit.append(
                db,
                AuditEvent(
                    tenant=tenant_id,
                    actor=actor,
                    action="auth.session.revoked",
                    target=f"user:{user_id}",
                    reason=reason,
                    details={"sessions": [r.public_id for r in ended]},
                ),
            )
        return len(live)

    def refresh_user(self, db: Session, tenant_id: str, user_id: str) -> None:
        """After a role change: live sessions re-read the user from the database on their next request."""
        query = select(UserSessionRow).where(
            UserSessionRow.tenant_id == tenant_id,
            UserSessionRow.user_id == user_id,
            UserSessionRow.revoked_at.is_(None),
        )
        for row in db.scalars(query):
            self._put(row.id, _RELOAD, row.expires_at - utc_now())
