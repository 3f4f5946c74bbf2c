"""Signed URLs on the tenant's storage grants, the grants' status, and connecting, revoking and restoring
them. The tenant is always the principal's; every refusal after authentication is audited."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Path, Request, Response

from auth.principal import Principal
from auth.roles import Permission
from enclave.api.deps import TenantAccess, tenant_principal
from enclave.api.models.storage import (
    GRANT_REF_PATTERN,
    GrantChangeOut,
    GrantConnectIn,
    GrantOut,
    ReasonIn,
    StorageStatusOut,
    UrlBatchIn,
    UrlBatchOut,
    url_batch_document,
)
from enclave.api.problems import problem_responses
from enclave.api.routing import max_body, resource_router
from enclave.logging import request_id_var
from enclave.storage_cli import open_storage_service
from storage_connector.backends import connect_reason
from storage_connector.probe import GrantProber
from storage_connector.service import StorageService
from tenancy.errors import ForbiddenError


@asynccontextmanager
async def probe_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the gateway runs, the background access probe checks every active grant (merged into the
    application's lifespan by FastAPI when the router is mounted)."""
    runtime = getattr(app.state, "runtime", None)
    prober: GrantProber | None = None
    if runtime is not None:
        service = service_for(app)
        prober = GrantProber(
            runtime.sessions, runtime.audit, service.states, service.signers, runtime.settings.storage_probe_seconds
        )
        prober.start()
    try:
        yield
    finally:
        if prober is not None:
            await asyncio.to_thread(prober.stop)


router = resource_router(prefix="/storage", tags=["storage"], lifespan=probe_lifespan)
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024  # 1,000 items with keys of up to 1 KiB
_service_lock = threading.Lock()
GrantRef = Annotated[str, Path(pattern=GRANT_REF_PATTERN, description="the grant's name or id")]


def service_for(app: FastAPI) -> StorageService:
    """The gateway's storage service: one per application, so signers keep their credential caches."""
    service: StorageService | None = getattr(app.state, "storage", None)
    if service is None:
        with _service_lock:
            service = getattr(app.state, "storage", None)
            if service is None:
                service = open_storage_service(app.state.runtime)
                app.state.storage = service
    return service


def storage_service(request: Request) -> StorageService:
    return service_for(request.app)


StorageDep = Annotated[StorageService, Depends(storage_service)]


def _access(request: Request, principal: Principal) -> TenantAccess:
    assert principal.tenant is not None
    client = request.client.host if request.client else None
    actor = principal.actor(ip=client, user_agent=request.headers.get("user-agent"))
    return TenantAccess(principal, principal.tenant, actor, request_id_var.get())


def storage_access(permission: Permission) -> Callable[..., TenantAccess]:
    """Like `require`, but a refusal is also on the audit record (`storage.grant.denied`)."""

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(tenant_principal)], service: StorageDep
    ) -> TenantAccess:
        access = _access(request, principal)
        if not principal.can(permission):
            reason = f"role {principal.role} lacks permission {permission}"
            service.deny_grant_request(access.tenant, access.actor, None, reason)
            raise ForbiddenError(reason)
        return access

    return dependency


def caller(request: Request, principal: Annotated[Principal, Depends(tenant_principal)]) -> TenantAccess:
    """Any tenant principal: issuance checks each operation's permission itself (and audits refusals)."""
    return _access(request, principal)


StorageRevoke = Annotated[TenantAccess, Depends(storage_access(Permission.STORAGE_REVOKE))]
StorageAdmin = Annotated[TenantAccess, Depends(storage_access(Permission.STORAGE_ADMIN))]


@router.post(
    "/urls",
    response_model=UrlBatchOut,
    summary="Sign a batch of URLs for keys under the grant's prefix (audited before they are returned)",
    responses=problem_responses(404),
)
@max_body(MAX_BATCH_BODY_BYTES)
def post_urls(body: UrlBatchIn, service: StorageDep, access: Annotated[TenantAccess, Depends(caller)]) -> Response:
    batch = service.issue(
        access.principal,
        body.grant,
        body.batch_items(),
        body.ttl_seconds,
        actor=access.actor,
        request_id=access.request_id,
    )
    # Built and encoded directly (the shape of UrlBatchOut, which documents it): validating 1,000 URLs
    # through the response model again would cost more than signing them.
    return Response(orjson.dumps(url_batch_document(batch)), media_type="application/json")


@router.get("/status", response_model=StorageStatusOut, summary="Whether each grant issues URLs now, and why not")
def get_status(service: StorageDep, access: StorageRevoke) -> StorageStatusOut:
    return StorageStatusOut.of(service.status(access.tenant))


@router.get("/grants", response_model=list[GrantOut], summary="The tenant's storage grants")
def get_grants(service: StorageDep, access: StorageRevoke) -> list[GrantOut]:
    return [GrantOut.of(state.grant, state.status.value) for state in service.status(access.tenant)]


@router.post(
    "/grants",
    status_code=201,
    response_model=GrantOut,
    summary="Connect a storage grant (the customer's bucket access)",
    description="One body per backend. 422 also for fields that are valid alone but not together (an S3 region "
    "outside its role's partition, a default lifetime above the maximum); 409 for an S3 grant without the "
    "ExternalId Enclave generated for its tenant and name, or one this gateway could never sign for.",
    responses=problem_responses(409),
)
def post_grant(body: GrantConnectIn, service: StorageDep, access: StorageAdmin) -> GrantOut:
    return GrantOut.of(service.connect(access.actor, access.tenant, body, connect_reason(body)))


@router.post(
    "/grants/{grant}/revoke",
    response_model=GrantChangeOut,
    summary="Stop issuance on every replica at once (audited with the reason)",
    responses=problem_responses(404),
)
def post_revoke(grant: GrantRef, body: ReasonIn, service: StorageDep, access: StorageRevoke) -> GrantChangeOut:
    changed, notified = service.revoke(access.actor, access.tenant, grant, body.reason)
    return GrantChangeOut(grants=[GrantOut.of(g) for g in changed], replicas_notified=notified)


@router.post(
    "/grants/{grant}/restore",
    response_model=GrantChangeOut,
    summary="Allow issuance again (also after a revocation the probe found in the customer's cloud)",
    responses=problem_responses(404),
)
def post_restore(grant: GrantRef, body: ReasonIn, service: StorageDep, access: StorageRevoke) -> GrantChangeOut:
    changed, notified = service.restore(access.actor, access.tenant, grant, body.reason)
    return GrantChangeOut(grants=[GrantOut.of(g) for g in changed], replicas_notified=notified)
