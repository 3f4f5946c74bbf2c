"""Browser sessions: a signed-in user's own (list, revoke one, sign out everywhere); any user's in the tenant
for `users.admin`. Revocation takes effect on every replica at once (auth/sessions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from enclave.api.models.sessions import RevokedCount, SessionOut
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/sessions", tags=["sessions"])
PublicId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the session's public id")]


@router.get("", response_model=list[SessionOut], summary="Live sessions: yours, or a user's (users.admin)")
def get_sessions(
    services: ServicesDep,
    access: AccessDep,
    user_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$", description="users.admin: whose")] = None,
) -> list[SessionOut]:
    rows = services.users.sessions(access, user_id)
    return [SessionOut.of(row, current=row.public_id == access.principal.session) for row in rows]


@router.delete(
    "/{public_id}",
    status_code=204,
    summary="End a session (yours, or any with users.admin)",
    responses=problem_responses(404, 409),
)
def delete_session(public_id: PublicId, services: ServicesDep, access: AccessDep) -> Response:
    services.users.end_session(access, public_id)
    return Response(status_code=204)


@router.delete("", response_model=RevokedCount, summary="Sign out everywhere (end all your sessions)")
def revoke_all_sessions(services: ServicesDep, access: AccessDep) -> RevokedCount:
    return RevokedCount(revoked=services.users.end_all_sessions(access))
