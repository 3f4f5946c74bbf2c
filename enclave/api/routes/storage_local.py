"""The embedded `local` store's object route: GET and PUT of bytes through URLs the gateway signed, and the
multipart uploads of storage_connector/local.py (POST to create or complete, PUT a part, DELETE to abort).

No credentials: the URL's HMAC signature is the authorisation, checked as a cloud store would (method,
object, expiry, signed content type, MD5 and size). The grant must still be active, so a revocation also
stops outstanding local URLs at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from audit.events import utc_now
from enclave.http.deps import ServicesDep
from enclave.http.problems import problem_responses
from enclave.http.routing import max_body, resource_router
from enclave.services.storage import local_store_dir
from storage_connector.grants import Backend, GrantStatus
from storage_connector.local import LocalAccess, LocalSigner, LocalStore
from storage_connector.revocation import RevocationStateUnknownError
from storage_connector.service import StorageService
from storage_connector.signer import MAX_PART_NUMBER
from tenancy.errors import (
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnavailableError,
)

router = resource_router(prefix="/objects", tags=["storage"])
MAX_LOCAL_UPLOAD_BODY = 5 * 1024**3  # the route's cap; each URL carries its own, smaller one
MAX_COMPLETE_BODY = 128 * 1024  # 10,000 part numbers
GrantId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
ObjectName = Annotated[str, Path(min_length=1, max_length=1024)]
RESPONSES = problem_responses(400, 403, 404, 413, 422, 503)


class SignedQuery(BaseModel):
    """The parameters a local signed URL carries (storage_connector/local.py)."""

    expires: str = Field(pattern=r"^[0-9]{1,12}$", description="Unix time the URL expires")
    user: str = Field(min_length=1, max_length=600, description="who the URL was issued to")
    signature: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256, hex")
    max_bytes: str | None = Field(None, alias="max-bytes", pattern=r"^[0-9]{1,13}$")
    content_type: str | None = Field(None, alias="content-type", max_length=255)
    content_md5: str | None = Field(None, alias="content-md5", max_length=24)
    uploads: str | None = Field(None, pattern=r"^1$", description="multipart-create")
    upload_id: str | None = Field(None, alias="upload-id", max_length=1024, description="multipart upload")
    part_number: str | None = Field(None, alias="part-number", pattern=r"^[0-9]{1,5}$")

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(by_alias=True).items() if v is not None}


Signed = Annotated[SignedQuery, Query()]


def _authorise(
    service: StorageService, request: Request, signed: SignedQuery, grant_id: str, object_name: str
) -> tuple[str, LocalAccess]:
    """(bucket, what the URL allows) or a refusal; the URL is checked before anything else is looked at."""
    grant = service.grant_by_id(grant_id)
    if grant is None or grant.backend is not Backend.LOCAL:
        raise ForbiddenError("not a valid signed URL")
    signer = service.signers.for_grant(grant)
    if not isinstance(signer, LocalSigner):
        raise ForbiddenError("not a valid signed URL")
    query = request.query_params
    if any(len(query.getlist(name)) > 1 for name in query):
        raise ForbiddenError("not a valid signed URL: a parameter is repeated")
    access = signer.verify(request.method, grant_id, object_name, signed.fields(), utc_now())
    try:
        status = service.states.status(grant_id)
    except RevocationStateUnknownError as exc:
        raise UnavailableError(str(exc)) from None
    if status is not GrantStatus.ACTIVE:
        raise ForbiddenError(f"the storage grant is {status.value}")
    return grant.bucket, access


@router.get("/{grant_id}/{object_name:path}", summary="Download through a local signed URL", responses=RESPONSES)
def get_object(
    grant_id: GrantId, object_name: ObjectName, signed: Signed, request: Request, services: ServicesDep
) -> Response:
    bucket, _ = _authorise(services.storage.service, request, signed, grant_id, object_name)
    path = LocalStore(local_store_dir(services.runtime.settings)).open(bucket, object_name)
    if path is None:
        raise NotFoundError("no such object")
    return FileResponse(path, media_type="application/octet-stream")


@router.put(
    "/{grant_id}/{object_name:path}", status_code=201, summary="Upload through a local signed URL", responses=RESPONSES
)
@max_body(MAX_LOCAL_UPLOAD_BODY)
async def put_object(
    grant_id: GrantId, object_name: ObjectName, signed: Signed, request: Request, services: ServicesDep
) -> Response:
    bucket, access = _authorise(services.storage.service, request, signed, grant_id, object_name)
    if access.content_type is not None and request.headers.get("content-type") != access.content_type:
        raise ForbiddenError("Content-Type differs from the one the URL was signed for")
    if access.content_md5 is not None and request.headers.get("content-md5") != access.content_md5:
        raise ForbiddenError("Content-MD5 differs from the one the URL was signed for")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > access.max_bytes:
        raise PayloadTooLargeError(f"upload is larger than the URL allows ({access.max_bytes} bytes)")
    store = LocalStore(local_store_dir(services.runtime.settings))
    if access.upload_id is not None:
        upload = store.begin_part(bucket, object_name, access)
    else:
        upload = store.begin_upload(bucket, object_name, access)
    try:
        async for chunk in request.stream():
            upload.write(chunk)
        size = upload.commit()
    finally:
        upload.discard()
    return Response(status_code=201, headers={"x-enclave-object-size": str(size)})


class CompleteIn(BaseModel):
    parts: list[int] = Field(min_length=1, max_length=MAX_PART_NUMBER, description="ascending part numbers")


@router.post(
    "/{grant_id}/{object_name:path}",
    summary="Create (signed with `uploads`) or complete (signed with `upload-id`) a local multipart upload",
    responses=RESPONSES,
)
@max_body(MAX_COMPLETE_BODY)
async def post_object(
    grant_id: GrantId, object_name: ObjectName, signed: Signed, request: Request, services: ServicesDep
) -> Response:
    bucket, access = _authorise(services.storage.service, request, signed, grant_id, object_name)
    store = LocalStore(local_store_dir(services.runtime.settings))
    if access.creates_upload:
        return JSONResponse({"upload_id": store.create_upload(bucket, object_name)})
    if access.upload_id is None:
        raise ForbiddenError("not a multipart URL")
    try:
        body = CompleteIn.model_validate_json(await request.body())
    except ValidationError:
        raise InvalidRequestError('the body must be {"parts": [ascending part numbers]}') from None
    size = store.complete_upload(bucket, object_name, access.upload_id, body.parts)
    return JSONResponse({"size": size})


@router.delete(
    "/{grant_id}/{object_name:path}", status_code=204, summary="Abort a local multipart upload", responses=RESPONSES
)
def delete_upload(
    grant_id: GrantId, object_name: ObjectName, signed: Signed, request: Request, services: ServicesDep
) -> Response:
    bucket, access = _authorise(services.storage.service, request, signed, grant_id, object_name)
    if access.upload_id is None:
        raise ForbiddenError("not a multipart URL")
    LocalStore(local_store_dir(services.runtime.settings)).abort_upload(bucket, object_name, access.upload_id)
    return Response(status_code=204)
