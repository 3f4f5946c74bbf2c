"""Tenants of a shared gateway (platform operator)."""

from __future__ import annotations

from audit.events import Actor, ActorKind
from auth.tenants import create_tenant, list_tenants
from enclave.api.deps import RuntimeDep
from enclave.api.models.tenants import TenantIn, TenantOut
from enclave.api.problems import problem_responses
from enclave.api.routing import resource_router
from enclave.db import transaction
from enclave.settings import Mode
from tenancy.errors import ConflictError

router = resource_router(prefix="/tenants", tags=["tenants"])
OPERATOR_ACTOR = Actor(ActorKind.OPERATOR, "operator")


@router.post(
    "", status_code=201, response_model=TenantOut, summary="Add a tenant", responses=problem_responses(400, 409)
)
def add_tenant(body: TenantIn, runtime: RuntimeDep) -> TenantOut:
    if runtime.settings.mode is Mode.DEDICATED:
        raise ConflictError("a dedicated gateway serves exactly its configured tenant")
    with transaction(runtime.sessions) as session:
        tenant = create_tenant(
            session,
            runtime.audit,
            OPERATOR_ACTOR,
            body.id,
            display_name=body.display_name,
            hostname=body.hostname,
            default_role=body.default_role,
        )
        return TenantOut.model_validate(tenant, from_attributes=True)


@router.get("", response_model=list[TenantOut], summary="List tenants")
def get_tenants(runtime: RuntimeDep) -> list[TenantOut]:
    with runtime.sessions() as session:
        return [TenantOut.model_validate(t, from_attributes=True) for t in list_tenants(session)]
