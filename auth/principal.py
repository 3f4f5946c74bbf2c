"""Who is making a request, as established by authentication. The tenant of a request comes from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from audit.events import Actor, ActorKind
from auth.roles import ROLE_PERMISSIONS, Permission, Role, ServiceRole


@dataclass(frozen=True)
class Principal:
    kind: ActorKind  # user, api-key, operator or system (a SCIM token)
    id: str  # user id, API key id, "operator", or "scim:<token id>"
    tenant: str | None  # None only for the platform operator
    role: Role | ServiceRole | None  # None only for the platform operator; a service role for a SCIM token
    email: str | None = None
    expires_at: datetime | None = None  # when the credential itself ends (an API key's expiry)
    session: str | None = None  # a browser session's public id (its principal only)
    csrf_token: str | None = field(default=None, repr=False)  # that session's token for state-changing requests

    def can(self, permission: Permission) -> bool:
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]

    def actor(self, ip: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(self.kind, self.id, email=self.email, ip=ip, user_agent=user_agent)


OPERATOR = Principal(kind=ActorKind.OPERATOR, id="operator", tenant=None, role=None)
