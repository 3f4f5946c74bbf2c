"""Users of the tenant (`users.admin`: invite, change a role, offboard, end someone's sessions), and a
signed-in user's own profile and API keys (created within the user's role, revoked by their owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.apikeys import KEY_ID_SCHEMA_PATTERN, ApiKeyNotFoundError, revoke_api_key
from auth.keycloak import KeycloakAdminError
from auth.models import ApiKey, User
from auth.roles import Permission
from auth.users import UserNotFoundError, create_user, grantable_roles, list_users, set_role
from auth.users_offboarding import offboard_user
from enclave.api.deps import RuntimeDep, TenantAccess, require
from enclave.api.models.api_keys import ApiKeyIn, ApiKeyOut, IssuedApiKeyOut
from enclave.api.models.sessions import RevokedCount
from enclave.api.models.users import OffboardingOut, RoleIn, UserIn, UserOut
from enclave.api.problems import problem_responses
from enclave.api.routes.api_keys import issue_api_key
from enclave.api.routes.sessions import Access, own_user_id
from enclave.api.routing import resource_router
from enclave.db import transaction
from enclave.sso_runtime import keycloak_offboarding, session_store
from tenancy.errors import ForbiddenError, UnavailableError

router = resource_router(prefix="/users", tags=["users"])
UsersAdmin = Annotated[TenantAccess, Depends(require(Permission.USERS_ADMIN))]
UserId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the user's id")]


def _user(session: Session, tenant: str, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.tenant_id != tenant:
        raise UserNotFoundError(f"no user {user_id!r} in this tenant")
    return user


@router.get("", response_model=list[UserOut], summary="The tenant's users")
def get_users(runtime: RuntimeDep, access: UsersAdmin) -> list[UserOut]:
    with runtime.sessions() as session:
        return [UserOut.model_validate(u, from_attributes=True) for u in list_users(session, access.tenant)]


@router.post(
    "", status_code=201, response_model=UserOut, summary="Invite a user", responses=problem_responses(400, 409)
)
def post_user(body: UserIn, runtime: RuntimeDep, access: UsersAdmin) -> UserOut:
    with transaction(runtime.sessions) as session:
        user = create_user(
            session,
            runtime.audit,
            access.actor,
            tenant_id=access.tenant,
            email=body.email,
            role=body.role,
            display_name=body.display_name,
        )
        return UserOut.model_validate(user, from_attributes=True)


@router.get("/me", response_model=UserOut, summary="Your profile", responses=problem_responses(404))
def get_me(runtime: RuntimeDep, access: Access) -> UserOut:
    with runtime.sessions() as session:
        return UserOut.model_validate(_user(session, access.tenant, own_user_id(access)), from_attributes=True)


@router.put("/{user_id}/role", response_model=UserOut, summary="Change a user's role", responses=problem_responses(404))
def put_role(user_id: UserId, body: RoleIn, runtime: RuntimeDep, access: UsersAdmin) -> UserOut:
    with transaction(runtime.sessions) as session:
        user = _user(session, access.tenant, user_id)
        if set_role(session, runtime.audit, access.actor, user, body.role, why="administrator"):
            session_store(runtime).refresh_user(session, access.tenant, user.id)  # live sessions see it at once
        return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/{user_id}/offboard",
    response_model=OffboardingOut,
    summary="Offboard: disable, end sessions and API keys, and at Keycloak",
    responses=problem_responses(404, 503),
)
def post_offboard(user_id: UserId, runtime: RuntimeDep, access: UsersAdmin) -> OffboardingOut:
    with runtime.sessions() as session:
        email = _user(session, access.tenant, user_id).email
    try:
        idp = keycloak_offboarding(runtime, access.tenant)
    except ValueError as exc:
        raise UnavailableError(str(exc)) from None
    try:
        report = offboard_user(
            runtime.sessions,
            runtime.audit,
            access.actor,
            session_store(runtime),
            tenant_id=access.tenant,
            email=email,
            idp=idp,
        )
    except KeycloakAdminError as exc:
        raise UnavailableError(f"Enclave access is removed, but {exc}; retry to finish at Keycloak") from None
    return OffboardingOut(**report.__dict__)


@router.post(
    "/{user_id}/sessions/revoke",
    response_model=RevokedCount,
    summary="End all of a user's sessions",
    responses=problem_responses(404),
)
def revoke_user_sessions(user_id: UserId, runtime: RuntimeDep, access: UsersAdmin) -> RevokedCount:
    with transaction(runtime.sessions) as session:
        _user(session, access.tenant, user_id)
        count = session_store(runtime).revoke_all(
            session,
            runtime.audit,
            access.actor,
            tenant_id=access.tenant,
            user_id=user_id,
            reason="revoked by an administrator",
        )
    return RevokedCount(revoked=count)


# -- a signed-in user's own API keys -------------------------------------------------------------------
@router.get("/me/api-keys", response_model=list[ApiKeyOut], summary="Your API keys (no secrets)")
def get_my_keys(runtime: RuntimeDep, access: Access) -> list[ApiKeyOut]:
    user_id = own_user_id(access)
    with runtime.sessions() as session:
        keys = session.scalars(
            select(ApiKey)
            .where(ApiKey.tenant_id == access.tenant, ApiKey.created_by == user_id)
            .order_by(ApiKey.created_at)
        )
        return [ApiKeyOut.model_validate(k, from_attributes=True) for k in keys]


@router.post(
    "/me/api-keys",
    status_code=201,
    response_model=IssuedApiKeyOut,
    summary="Create an API key within your role",
    responses=problem_responses(400),
)
def post_my_key(body: ApiKeyIn, runtime: RuntimeDep, access: Access) -> IssuedApiKeyOut:
    own_user_id(access)
    role = access.principal.role
    assert role is not None
    if body.role not in grantable_roles(role):
        raise ForbiddenError(f"a {role} cannot create a {body.role} key: it would do more than you may")
    return issue_api_key(runtime, access, body)


@router.delete(
    "/me/api-keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke one of your API keys",
    responses=problem_responses(404, 409),
)
def delete_my_key(
    key_id: Annotated[str, Path(pattern=KEY_ID_SCHEMA_PATTERN)], runtime: RuntimeDep, access: Access
) -> ApiKeyOut:
    user_id = own_user_id(access)
    with transaction(runtime.sessions) as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.tenant_id != access.tenant or key.created_by != user_id:
            raise ApiKeyNotFoundError(f"no API key {key_id!r} of yours")
        return ApiKeyOut.model_validate(
            revoke_api_key(session, runtime.audit, access.actor, tenant_id=access.tenant, key_id=key_id),
            from_attributes=True,
        )
