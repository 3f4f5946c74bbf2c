"""Tenants of a shared gateway (platform operator)."""

from __future__ import annotations

from audit.events import Actor, ActorKind
from enclave.api.models.tenants import TenantIn, TenantOut
from enclave.http.deps import ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/tenants", tags=["tenants"])
OPERATOR_ACTOR = Actor(ActorKind.OPERATOR, "operator")


@router.post(
    "", status_code=201, response_model=TenantOut, summary="Add a tenant", responses=problem_responses(400, 409)
)
def add_tenant(body: TenantIn, services: ServicesDep) -> TenantOut:
    tenant = services.tenants.add(
        OPERATOR_ACTOR, body.id, display_name=body.display_name, hostname=body.hostname, default_role=body.default_role
    )
    return TenantOut.model_validate(tenant, from_attributes=True)


@router.get("", response_model=list[TenantOut], summary="List tenants")
def get_tenants(services: ServicesDep) -> list[TenantOut]:
    return [TenantOut.model_validate(t, from_attributes=True) for t in services.tenants.list()]
