"""The tenant's identity providers and sign-in policy (`sso.admin`: tenant admins). Client secrets go in
and never come out; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response
from pydantic import ValidationError

from auth.sso.config import PROVIDER_NAME_REGEX, SignInPolicy
from auth.sso.models import IdentityProviderRow
from enclave.api.models.sso import PolicyBody, PolicyOut, ProviderIn, ProviderOut, RoleMapping
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router
from tenancy.errors import InvalidRequestError

router = resource_router(prefix="/sso", tags=["sso"])
ProviderName = Annotated[str, Path(pattern=rf"^{PROVIDER_NAME_REGEX}$")]


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
def get_providers(services: ServicesDep, access: AccessDep) -> list[ProviderOut]:
    return [_out(row) for row in services.sso.providers(access)]


@router.post(
    "/providers",
    status_code=201,
    response_model=ProviderOut,
    summary="Add an identity provider",
    responses=problem_responses(400, 409),
)
def post_provider(body: ProviderIn, services: ServicesDep, access: AccessDep) -> ProviderOut:
    try:
        config = body.config()
    except ValidationError as exc:  # the schema states every rule; this is the backstop
        raise _invalid(exc) from None
    return _out(services.sso.add_provider(access, config))


@router.put(
    "/providers/{name}",
    response_model=ProviderOut,
    summary="Edit an identity provider in place (its users keep their links; an omitted secret is kept)",
    description="The provider named in the path takes the body's configuration; a different `name` in the body "
    "renames it (409 when another provider has that name).",
    responses=problem_responses(400, 404, 409),
)
def put_provider(name: ProviderName, body: ProviderIn, services: ServicesDep, access: AccessDep) -> ProviderOut:
    try:
        config = body.config()
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _out(services.sso.replace_provider(access, name, config))


@router.delete(
    "/providers/{name}",
    status_code=204,
    summary="Remove an identity provider",
    responses=problem_responses(404),
)
def delete_provider(name: ProviderName, services: ServicesDep, access: AccessDep) -> Response:
    services.sso.remove_provider(access, name)
    return Response(status_code=204)


def _policy_out(policy: SignInPolicy, warnings: list[str]) -> PolicyOut:
    mapping = RoleMapping(claim=policy.role_claim, roles=policy.role_map) if policy.role_claim else None
    return PolicyOut(
        allowed_domains=list(policy.allowed_domains),
        jit=policy.jit,
        role_mapping=mapping,
        idle_timeout_seconds=policy.idle_timeout_seconds,
        absolute_timeout_seconds=policy.absolute_timeout_seconds,
        revalidate_seconds=policy.revalidate_seconds,
        warnings=warnings,
    )


@router.get("/policy", response_model=PolicyOut, summary="The tenant's sign-in policy")
def get_sign_in_policy(services: ServicesDep, access: AccessDep) -> PolicyOut:
    return _policy_out(services.sso.policy(access), services.sso.policy_warnings(access))


@router.put(
    "/policy",
    response_model=PolicyOut,
    summary="Replace the tenant's sign-in policy",
    responses=problem_responses(400),
)
def put_sign_in_policy(body: PolicyBody, services: ServicesDep, access: AccessDep) -> PolicyOut:
    mapping = body.role_mapping
    try:
        policy = SignInPolicy(
            allowed_domains=tuple(body.allowed_domains),
            jit=body.jit,
            role_claim=mapping.claim if mapping else None,
            role_map=mapping.roles if mapping else {},
            idle_timeout_seconds=body.idle_timeout_seconds,
            absolute_timeout_seconds=body.absolute_timeout_seconds,
            revalidate_seconds=body.revalidate_seconds,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _policy_out(policy, services.sso.set_policy(access, policy))
