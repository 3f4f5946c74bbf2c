"""Who is acting on which tenant: what every use case is given, whoever calls it (the HTTP API, the pages, the
command line). The tenant comes from the authenticated principal (or, at the command line, the operator's
`--tenant`), never from a request body; each use case checks the permission it needs here, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from audit.events import Actor, ActorKind
from auth.principal import Principal
from auth.roles import Permission, Role
from tenancy.errors import ForbiddenError


@dataclass(frozen=True)
class Access:
    """An authenticated principal acting on its tenant, with what audit records need."""

    principal: Principal
    tenant: str
    actor: Actor
    request_id: str | None = None

    @classmethod
    def of(cls, principal: Principal, *, ip: str | None, user_agent: str | None, request_id: str | None) -> Access:
        """A tenant principal's access (ForbiddenError for the platform operator, who has no tenant)."""
        if principal.tenant is None:
            raise ForbiddenError("the operator token is for platform operations only")
        return cls(principal, principal.tenant, principal.actor(ip=ip, user_agent=user_agent), request_id)

    @classmethod
    def operator(cls, tenant: str, actor: Actor) -> Access:
        """The platform operator at the command line acting on one tenant: every permission there. Audit
        records name the operator (`actor`), never a tenant user."""
        principal = Principal(kind=ActorKind.OPERATOR, id=actor.id, tenant=tenant, role=Role.ADMIN)
        return cls(principal, tenant, actor)

    def can(self, permission: Permission) -> bool:
        return self.principal.can(permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise ForbiddenError(f"role {self.principal.role} lacks permission {permission}")

    @property
    def user_id(self) -> str | None:
        """The signed-in user's id (None for an API key or the operator)."""
        return self.principal.id if self.principal.kind is ActorKind.USER else None

    def own_user_id(self) -> str:
        """The signed-in user's id; ForbiddenError for any other kind of principal."""
        if self.user_id is None:
            raise ForbiddenError("only a signed-in user has this; API keys have none")
        return self.user_id
