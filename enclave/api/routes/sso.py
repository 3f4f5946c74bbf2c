"""The tenant's identity providers and sign-in policy (`sso.admin`: tenant admins). Client secrets go in
and never come out; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Response
from pydantic import ValidationError

from auth.roles import Permission
from auth.sso.config import SignInPolicy
from auth.sso.models import IdentityProviderRow
from auth.sso.registry import add_provider, get_policy, list_providers, remove_provider, set_policy
from enclave.api.deps import RuntimeDep, TenantAccess, require
from enclave.api.models.sso import PolicyBody, ProviderIn, ProviderOut, RoleMapping
from enclave.api.problems import problem_responses
from enclave.api.routing import resource_router
from enclave.db import transaction
from tenancy.errors import InvalidRequestError

router = resource_router(prefix="/sso", tags=["sso"])
SsoAdmin = Annotated[TenantAccess, Depends(require(Permission.SSO_ADMIN))]


def _invalid(exc: ValidationError) -> InvalidRequestError:
    return InvalidRequestError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))


def _out(row: IdentityProviderRow) -> ProviderOut:
    return ProviderOut(
        name=row.name,
        kind=row.kind,
        issuer=row.issuer,
        client_id=row.client_id,
        has_client_secret=row.client_secret is not None,
        options=row.options,
        created_at=row.created_at,
    )


@router.get("/providers", response_model=list[ProviderOut], summary="The tenant's identity providers")
def get_providers(runtime: RuntimeDep, access: SsoAdmin) -> list[ProviderOut]:
    with runtime.sessions() as session:
        return [_out(row) for row in list_providers(session, access.tenant)]


@router.post(
    "/providers",
    status_code=201,
    response_model=ProviderOut,
    summary="Add an identity provider",
    responses=problem_responses(400, 409),
)
def post_provider(body: ProviderIn, runtime: RuntimeDep, access: SsoAdmin) -> ProviderOut:
    try:
        config = body.config()
    except ValidationError as exc:  # the schema states every rule; this is the backstop
        raise _invalid(exc) from None
    with transaction(runtime.sessions) as session:
        allow_insecure = runtime.settings.sso_allow_insecure_loopback_issuers
        row = add_provider(
            session, runtime.audit, access.actor, access.tenant, config, allow_insecure_loopback=allow_insecure
        )
        return _out(row)


@router.delete(
    "/providers/{name}",
    status_code=204,
    summary="Remove an identity provider",
    responses=problem_responses(404),
)
def delete_provider(
    name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,39}$")], runtime: RuntimeDep, access: SsoAdmin
) -> Response:
    with transaction(runtime.sessions) as session:
        remove_provider(session, runtime.audit, access.actor, access.tenant, name)
    return Response(status_code=204)


def _policy_out(policy: SignInPolicy) -> PolicyBody:
    mapping = RoleMapping(claim=policy.role_claim, roles=policy.role_map) if policy.role_claim else None
    return PolicyBody(
        allowed_domains=list(policy.allowed_domains),
        jit=policy.jit,
        role_mapping=mapping,
        idle_timeout_seconds=policy.idle_timeout_seconds,
        absolute_timeout_seconds=policy.absolute_timeout_seconds,
    )


@router.get("/policy", response_model=PolicyBody, summary="The tenant's sign-in policy")
def get_sign_in_policy(runtime: RuntimeDep, access: SsoAdmin) -> PolicyBody:
    with runtime.sessions() as session:
        return _policy_out(get_policy(session, access.tenant))


@router.put(
    "/policy",
    response_model=PolicyBody,
    summary="Replace the tenant's sign-in policy",
    responses=problem_responses(400),
)
def put_sign_in_policy(body: PolicyBody, runtime: RuntimeDep, access: SsoAdmin) -> PolicyBody:
    mapping = body.role_mapping
    try:
        policy = SignInPolicy(
            allowed_domains=tuple(body.allowed_domains),
            jit=body.jit,
            role_claim=mapping.claim if mapping else None,
            role_map=mapping.roles if mapping else {},
            idle_timeout_seconds=body.idle_timeout_seconds,
            absolute_timeout_seconds=body.absolute_timeout_seconds,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    with transaction(runtime.sessions) as session:
        set_policy(session, runtime.audit, access.actor, access.tenant, policy)
    return _policy_out(policy)
