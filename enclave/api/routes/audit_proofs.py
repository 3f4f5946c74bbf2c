"""The tenant's audit proofs (inclusion, consistency) and the sync of its log into its own bucket."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

from enclave.api.models.audit_proofs import (
    ConsistencyProofOut,
    InclusionProofOut,
    SyncIn,
    SyncRunOut,
    SyncStatusOut,
)
from enclave.api.models.storage import GRANT_REF_PATTERN
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import resource_router

router = resource_router(prefix="/audit", tags=["audit"])
MAX_SEQ = 2**53 - 1  # a record's seq is a safe JSON integer
GrantRef = Annotated[str, Path(pattern=GRANT_REF_PATTERN, description="the storage grant's name or id")]


@router.get(
    "/proofs/inclusion/{seq}",
    response_model=InclusionProofOut,
    summary="Record `seq` and its RFC 9162 audit path to the current signed tree head",
    description="404 for a record the log does not hold (beyond its size, or pruned); 409 when the log has no "
    "signed tree head. `enclave audit verify --proof FILE` checks the answer offline.",
    responses=problem_responses(404, 409),
)
def inclusion(
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)], services: ServicesDep, access: AccessDep
) -> InclusionProofOut:
    return InclusionProofOut.model_validate(services.audit.proofs.inclusion(access, seq).to_json())


@router.get(
    "/proofs/consistency/{old_size}",
    response_model=ConsistencyProofOut,
    summary="An RFC 9162 proof that the current signed tree extends the tree of `old_size` records",
    description="404 for a size the log never had, or one inside the pruned prefix; 409 when the log has no "
    "signed tree head.",
    responses=problem_responses(404, 409),
)
def consistency(
    old_size: Annotated[int, Path(ge=1, le=MAX_SEQ)], services: ServicesDep, access: AccessDep
) -> ConsistencyProofOut:
    return ConsistencyProofOut.model_validate(services.audit.proofs.consistency(access, old_size).to_json())


@router.get("/sync", response_model=list[SyncStatusOut], summary="Where the tenant's audit log is synced, and how")
def sync_status(services: ServicesDep, access: AccessDep) -> list[SyncStatusOut]:
    return [SyncStatusOut.of(status) for status in services.audit.sync.status(access)]


@router.post(
    "/sync",
    status_code=201,
    response_model=SyncStatusOut,
    summary="Sync the tenant's audit log into one of its storage grants (audited)",
    description="Needs `storage.revoke` (security-admin, admin). 404 for an unknown grant; 409 when the grant is "
    "not active or the log already syncs into it.",
    responses=problem_responses(404, 409),
)
def sync_enable(body: SyncIn, services: ServicesDep, access: AccessDep) -> SyncStatusOut:
    return SyncStatusOut.of(services.audit.sync.enable(access, body.grant, body.prefix))


@router.delete(
    "/sync/{grant}",
    status_code=204,
    summary="Stop syncing into the grant (audited); what the bucket holds stays",
    responses=problem_responses(404),
)
def sync_disable(grant: GrantRef, services: ServicesDep, access: AccessDep) -> Response:
    services.audit.sync.disable(access, grant)
    return Response(status_code=204)


@router.post(
    "/sync/{grant}/run",
    response_model=SyncRunOut,
    summary="Sync into the grant now; a failure is in the answer, on the target and in the audit log",
    responses=problem_responses(404, 409),
)
def sync_run(grant: GrantRef, services: ServicesDep, access: AccessDep) -> SyncRunOut:
    return SyncRunOut.of(services.audit.sync.run_now(access, grant))
