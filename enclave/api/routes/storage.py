"""Signed URLs on the tenant's storage grants, the grants' status, and connecting, revoking and restoring
them. The tenant is always the principal's; every refusal after authentication is audited."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Response

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
from enclave.http.deps import AccessDep, ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import max_body, resource_router
from storage_connector.service import BatchItem

router = resource_router(prefix="/storage", tags=["storage"])
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024  # 1,000 items with keys of up to 1 KiB
GrantRef = Annotated[str, Path(pattern=GRANT_REF_PATTERN, description="the grant's name or id")]


@router.post(
    "/urls",
    response_model=UrlBatchOut,
    summary="Sign a batch of URLs for keys under the grant's prefix (audited before they are returned)",
    description="409 when the batch conflicts with the grant's policy: a lifetime past the grant's longest, or an "
    "operation the grant's store cannot sign (e.g. multipart on a store without it).",
    responses=problem_responses(404, 409),
)
@max_body(MAX_BATCH_BODY_BYTES)
def post_urls(body: UrlBatchIn, services: ServicesDep, access: AccessDep) -> Response:
    items = [BatchItem(**item.model_dump()) for item in body.items]
    batch = services.storage.issue(access, body.grant, items, body.ttl_seconds)
    # Built and encoded directly (the shape of UrlBatchOut, which documents it): validating 1,000 URLs
    # through the response model again would cost more than signing them.
    return Response(orjson.dumps(url_batch_document(batch)), media_type="application/json")


@router.get("/status", response_model=StorageStatusOut, summary="Whether each grant issues URLs now, and why not")
def get_status(services: ServicesDep, access: AccessDep) -> StorageStatusOut:
    return StorageStatusOut.of(services.storage.status(access))


@router.get("/grants", response_model=list[GrantOut], summary="The tenant's storage grants")
def get_grants(services: ServicesDep, access: AccessDep) -> list[GrantOut]:
    return [GrantOut.of(state.grant, state.status.value) for state in services.storage.status(access)]


@router.post(
    "/grants",
    status_code=201,
    response_model=GrantOut,
    summary="Connect a storage grant (the customer's bucket access)",
    responses=problem_responses(409),
)
def post_grant(body: GrantConnectIn, services: ServicesDep, access: AccessDep) -> GrantOut:
    return GrantOut.of(services.storage.connect(access, body.spec(), body.reason))


@router.post(
    "/grants/{grant}/revoke",
    response_model=GrantChangeOut,
    summary="Stop issuance on every replica at once (audited with the reason)",
    responses=problem_responses(404),
)
def post_revoke(grant: GrantRef, body: ReasonIn, services: ServicesDep, access: AccessDep) -> GrantChangeOut:
    changed, notified = services.storage.revoke(access, grant, body.reason)
    return GrantChangeOut(grants=[GrantOut.of(g) for g in changed], replicas_notified=notified)


@router.post(
    "/grants/{grant}/restore",
    response_model=GrantChangeOut,
    summary="Allow issuance again (also after a revocation the probe found in the customer's cloud)",
    responses=problem_responses(404),
)
def post_restore(grant: GrantRef, body: ReasonIn, services: ServicesDep, access: AccessDep) -> GrantChangeOut:
    changed, notified = services.storage.restore(access, grant, body.reason)
    return GrantChangeOut(grants=[GrantOut.of(g) for g in changed], replicas_notified=notified)
