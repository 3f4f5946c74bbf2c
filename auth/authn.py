"""Authentication as a chain: each `Authenticator` knows one kind of credential (operator token, API key;
the browser session comes with SSO) and returns a principal, nothing (not its kind), or refuses.

Authenticators look only at `Credentials` (headers, cookies, client address), never at a request body, so
the gateway authenticates before it reads one. A refusal carries what the gateway needs to rate-limit and
audit it (`subject`, `tenant`, the precise `reason`); the client only ever sees one message."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audit.events import Actor, ActorKind, AuditEvent, Outcome
from auth.principal import OPERATOR, Principal
from tenancy.errors import UnauthenticatedError

REFUSED_MESSAGE = "invalid credentials"  # one message for every refusal: no oracle for which part was wrong
MISSING_MESSAGE = "missing credentials: send 'Authorization: Bearer <API key>'"
_SUBJECT_KINDS = {"apikey": ActorKind.API_KEY, "operator": ActorKind.OPERATOR}


@dataclass(frozen=True)
class Credentials:
    """What a request presents, as the authenticators may see it."""

    authorization: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)
    client_ip: str | None = None
    user_agent: str | None = None

    @property
    def bearer(self) -> str | None:
        """The bearer token, or None when the request sends no `Authorization: Bearer` header."""
        scheme, _, token = (self.authorization or "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None


class AuthenticationError(UnauthenticatedError):
    """Credentials were refused. `str()` is the one client message; `reason` (audit and logs only) is the
    precise cause; `subject` names what was presented (e.g. `apikey:<id>`, `operator`) for rate limits;
    `tenant` is where the refusal is audited (None when no tenant owns the subject)."""

    def __init__(
        self,
        reason: str,
        *,
        subject: str,
        tenant: str | None = None,
        action: str | None = None,
        actor_kind: ActorKind | None = None,
    ) -> None:
        super().__init__(REFUSED_MESSAGE)
        self.reason = reason
        self.subject = subject
        self.tenant = tenant
        self.action = action
        kind = subject.partition(":")[0]
        self.actor_kind = actor_kind or _SUBJECT_KINDS.get(kind, ActorKind.USER)

    def actor(self, ip: str | None) -> Actor:
        """Who was refused, as audit records name it: the subject's id (never the credential itself)."""
        kind, _, subject_id = self.subject.partition(":")
        return Actor(self.actor_kind, subject_id or kind, ip=ip)

    def audit_event(self, *, ip: str | None, request_id: str | None, tenant: str | None = None) -> AuditEvent | None:
        """The record of this refusal in `tenant` (default: the subject's own tenant), if it has one."""
        home = self.tenant or tenant
        if home is None or self.action is None:
            return None
        return AuditEvent(
            tenant=home,
            actor=self.actor(ip),
            action=self.action,
            outcome=Outcome.DENIED,
            target=self.subject,
            reason=self.reason,
            request_id=request_id,
        )


class Authenticator(Protocol):
    """One kind of credential. `authenticate` returns the principal, None when the credentials are not of
    this kind (the chain asks the next one), or raises AuthenticationError when they are and are refused."""

    def authenticate(self, credentials: Credentials) -> Principal | None: ...


class OperatorTokenAuthenticator:
    """The platform operator's bearer token, compared in constant time. Any bearer that is not an API key
    is taken as an attempt at this token."""

    def __init__(self, token: str | None, *, api_key_prefix: str) -> None:
        self._token = token.encode() if token else None
        self._api_key_prefix = api_key_prefix

    def authenticate(self, credentials: Credentials) -> Principal | None:
        bearer = credentials.bearer
        if bearer is None or bearer.startswith(self._api_key_prefix):
            return None
        if self._token is not None and hmac.compare_digest(bearer.encode(), self._token):
            return OPERATOR
        reason = "wrong operator token" if self._token is not None else "unrecognised bearer token"
        raise AuthenticationError(reason, subject="operator", action="auth.operator.denied")


class AuthenticatorChain:
    """Asks each authenticator in turn; the first principal wins, the first refusal stops the chain."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)

    def authenticate(self, credentials: Credentials) -> Principal:
        for authenticator in self._authenticators:
            principal = authenticator.authenticate(credentials)
            if principal is not None:
                return principal
        raise UnauthenticatedError(MISSING_MESSAGE)
