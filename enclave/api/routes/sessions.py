"""Browser sessions: a signed-in user's own (list, revoke one, sign out everywhere); any user's in the tenant
for `users.admin`. Revocation takes effect on every replica at once (auth/sessions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy import select

from audit.events import ActorKind
from auth.principal import Principal
from auth.roles import Permission
from auth.sessions import token_hash
from auth.sessions_authn import SESSION_COOKIE
from auth.sessions_models import UserSessionRow
from enclave.api.deps import RuntimeDep, TenantAccess, tenant_principal
from enclave.api.models.sessions import RevokedCount, SessionOut
from enclave.api.problems import problem_responses
from enclave.api.routing import resource_router
from enclave.db import transaction
from enclave.logging import request_id_var
from enclave.sso_runtime import session_store
from tenancy.errors import ForbiddenError, NotFoundError

router = resource_router(prefix="/sessions", tags=["sessions"])
PublicId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the session's public id")]


def signed_in(request: Request, principal: Annotated[Principal, Depends(tenant_principal)]) -> TenantAccess:
    """Any principal of the tenant; what each route then allows depends on who it is."""
    assert principal.tenant is not None
    actor = principal.actor(
        ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent")
    )
    return TenantAccess(principal, principal.tenant, actor, request_id_var.get())


Access = Annotated[TenantAccess, Depends(signed_in)]


def own_user_id(access: TenantAccess) -> str:
    if access.principal.kind is not ActorKind.USER:
        raise ForbiddenError("only a signed-in user has sessions; API keys have none")
    return access.principal.id


def _out(row: UserSessionRow, current_hash: str | None) -> SessionOut:
    return SessionOut(
        public_id=row.public_id,
        user_id=row.user_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        ip=row.ip,
        user_agent=row.user_agent,
        current=row.id == current_hash,
    )


@router.get("", response_model=list[SessionOut], summary="Live sessions: yours, or a user's (users.admin)")
def get_sessions(
    request: Request,
    runtime: RuntimeDep,
    access: Access,
    user_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$", description="users.admin: whose")] = None,
) -> list[SessionOut]:
    if user_id is None:
        user_id = own_user_id(access)
    elif not access.principal.can(Permission.USERS_ADMIN):
        raise ForbiddenError(f"role {access.principal.role} lacks permission {Permission.USERS_ADMIN}")
    cookie = request.cookies.get(SESSION_COOKIE)
    with runtime.sessions() as session:
        rows = session_store(runtime).list_for_user(session, access.tenant, user_id)
    return [_out(row, token_hash(cookie) if cookie else None) for row in rows]


@router.delete(
    "/{public_id}",
    status_code=204,
    summary="End a session (yours, or any with users.admin)",
    responses=problem_responses(404, 409),
)
def delete_session(public_id: PublicId, runtime: RuntimeDep, access: Access) -> Response:
    with transaction(runtime.sessions) as session:
        row = session.scalars(select(UserSessionRow).where(UserSessionRow.public_id == public_id)).one_or_none()
        mine = row is not None and access.principal.kind is ActorKind.USER and row.user_id == access.principal.id
        if row is None or row.tenant_id != access.tenant or not (mine or access.principal.can(Permission.USERS_ADMIN)):
            raise NotFoundError(f"no session {public_id!r}")  # another user's session is as good as absent
        session_store(runtime).revoke(
            session,
            runtime.audit,
            access.actor,
            tenant_id=access.tenant,
            public_id=public_id,
            reason="revoked by its user" if mine else "revoked by an administrator",
        )
    return Response(status_code=204)


@router.delete("", response_model=RevokedCount, summary="Sign out everywhere (end all your sessions)")
def revoke_all_sessions(runtime: RuntimeDep, access: Access) -> RevokedCount:
    user_id = own_user_id(access)
    with transaction(runtime.sessions) as session:
        count = session_store(runtime).revoke_all(
            session, runtime.audit, access.actor, tenant_id=access.tenant, user_id=user_id, reason="sign out everywhere"
        )
    return RevokedCount(revoked=count)
