"""Signed URLs on the tenant's storage grants, the grants' status, and connecting, revoking and restoring
them. The tenant is always the principal's; every refusal after authentication is audited."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Response

from enclave.api.models.storage import (
    GRANT_REF_PATTERN,
    ExternalIdOut,
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
from storage_connector.backends import connect_reason

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
    batch = services.storage.issue(access, body.grant, body.batch_items(), body.ttl_seconds)
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
    description="One body per backend. 422 also for fields that are valid alone but not together (an S3 region "
    "outside its role's partition, a default lifetime above the maximum); 409 for an S3 grant without the "
    "ExternalId Enclave generated for its tenant and name, or one this gateway could never sign for.",
    responses=problem_responses(409),
)
def post_grant(body: GrantConnectIn, services: ServicesDep, access: AccessDep) -> GrantOut:
    return GrantOut.of(services.storage.connect(access, body, connect_reason(body)))


@router.post(
    "/grants/{grant}/external-id",
    response_model=ExternalIdOut,
    summary="The ExternalId the customer's AWS role must require for this grant (generated once by Enclave)",
    description="The first call generates it (audited as `storage.externalid.generated`); later calls return the "
    "same one. Customer IT puts it in the bring-your-own-bucket kit before the grant is connected.",
    responses=problem_responses(404),
)
def post_external_id(grant: GrantRef, services: ServicesDep, access: AccessDep) -> ExternalIdOut:
    return ExternalIdOut.of(services.storage.external_id(access, grant))


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
