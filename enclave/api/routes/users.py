"""Users of the tenant (`users.admin`: invite, change a role, offboard, end someone's sessions), and a
signed-in user's own profile and API keys (created within the user's role, revoked by their owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from auth.apikeys import KEY_ID_SCHEMA_PATTERN
from auth.sso.config import PROVIDER_NAME_REGEX
from enclave.api.models.api_keys import ApiKeyIn, ApiKeyOut, IssuedApiKeyOut
from enclave.api.models.sessions import RevokedCount
from enclave.api.models.storage import ReasonIn
from enclave.api.models.users import IdentityIn, IdentityOut, OffboardingOut, RoleIn, UserIn, UserOut
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/users", tags=["users"])
UserId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the user's id")]
KeyId = Annotated[str, Path(pattern=KEY_ID_SCHEMA_PATTERN, description="the key's 12-hex id")]


@router.get("", response_model=list[UserOut], summary="The tenant's users")
def get_users(services: ServicesDep, access: AccessDep) -> list[UserOut]:
    return [UserOut.of(user) for user in services.users.list(access)]


@router.post(
    "", status_code=201, response_model=UserOut, summary="Invite a user", responses=problem_responses(400, 409)
)
def post_user(body: UserIn, services: ServicesDep, access: AccessDep) -> UserOut:
    return UserOut.of(services.users.invite(access, email=body.email, role=body.role, display_name=body.display_name))


@router.get("/me", response_model=UserOut, summary="Your profile", responses=problem_responses(404))
def get_me(services: ServicesDep, access: AccessDep) -> UserOut:
    return UserOut.of(services.users.me(access))


@router.put("/{user_id}/role", response_model=UserOut, summary="Change a user's role", responses=problem_responses(404))
def put_role(user_id: UserId, body: RoleIn, services: ServicesDep, access: AccessDep) -> UserOut:
    return UserOut.of(services.users.set_role(access, user_id, body.role))


@router.post(
    "/{user_id}/offboard",
    response_model=OffboardingOut,
    summary="Offboard: disable, end sessions and API keys, and at Keycloak",
    responses=problem_responses(404, 503),
)
def post_offboard(
    user_id: UserId, services: ServicesDep, access: AccessDep, body: ReasonIn | None = None
) -> OffboardingOut:
    """The optional `reason` goes on the `auth.user.offboarded` audit record."""
    report = services.users.offboard(access, user_id, body.reason if body else None)
    return OffboardingOut(**report.__dict__)


@router.post(
    "/{user_id}/sessions/revoke",
    response_model=RevokedCount,
    summary="End all of a user's sessions",
    responses=problem_responses(404),
)
def revoke_user_sessions(user_id: UserId, services: ServicesDep, access: AccessDep) -> RevokedCount:
    return RevokedCount(revoked=services.users.end_all_sessions(access, user_id))


# -- identities --------------------------------------------------------------------------------------------
@router.get(
    "/{user_id}/identities",
    response_model=list[IdentityOut],
    summary="The provider accounts that sign in as this user",
    responses=problem_responses(404),
)
def get_identities(user_id: UserId, services: ServicesDep, access: AccessDep) -> list[IdentityOut]:
    return [IdentityOut(**identity.__dict__) for identity in services.users.identities(access, user_id)]


@router.post(
    "/{user_id}/identities",
    status_code=201,
    response_model=IdentityOut,
    summary="Link a provider account to this user (customer IT, after checking it is the same person)",
    responses=problem_responses(404, 409),
)
def post_identity(user_id: UserId, body: IdentityIn, services: ServicesDep, access: AccessDep) -> IdentityOut:
    linked = services.users.link(access, user_id, provider=body.provider, subject=body.subject)
    return IdentityOut(**linked.__dict__)


@router.delete(
    "/{user_id}/identities/{provider}/{subject}",
    response_model=RevokedCount,
    summary="Unlink a provider account; the sessions opened with it end",
    responses=problem_responses(404),
)
def delete_identity(
    user_id: UserId,
    provider: Annotated[str, Path(pattern=rf"^{PROVIDER_NAME_REGEX}$")],
    subject: Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[!-~]+$")],
    services: ServicesDep,
    access: AccessDep,
) -> RevokedCount:
    return RevokedCount(revoked=services.users.unlink(access, user_id, provider=provider, subject=subject))


# -- a signed-in user's own API keys -------------------------------------------------------------------
@router.get("/me/api-keys", response_model=list[ApiKeyOut], summary="Your API keys (no secrets)")
def get_my_keys(services: ServicesDep, access: AccessDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(key) for key in services.api_keys.list(access, mine=True)]


@router.post(
    "/me/api-keys",
    status_code=201,
    response_model=IssuedApiKeyOut,
    summary="Create an API key within your role",
    responses=problem_responses(400),
)
def post_my_key(body: ApiKeyIn, services: ServicesDep, access: AccessDep) -> IssuedApiKeyOut:
    issued = services.api_keys.create(access, role=body.role, name=body.name, ttl_days=body.ttl_days, mine=True)
    return IssuedApiKeyOut.of_issued(issued)


@router.delete(
    "/me/api-keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke one of your API keys",
    responses=problem_responses(404, 409),
)
def delete_my_key(key_id: KeyId, services: ServicesDep, access: AccessDep) -> ApiKeyOut:
    return ApiKeyOut.of(services.api_keys.revoke(access, key_id, mine=True))
