"""Storage: URL batches, grants and their status as the API takes and shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storage_connector.backends import GrantConnectIn
from storage_connector.external_ids import ExternalId
from storage_connector.grants import REASON_PATTERN, Grant
from storage_connector.service import MAX_BATCH, BatchItem, GrantState, IssuedBatch
from storage_connector.signer import MAX_PART_NUMBER, Operation
from storage_connector.spec import GRANT_NAME_PATTERN, JSON_INTEGER, TtlSeconds

__all__ = ["GrantConnectIn"]  # the one grant model (storage_connector/backends.py), as the API's body

GRANT_REF_PATTERN = GRANT_NAME_PATTERN  # a grant's name, or its 16-hex id (which the name pattern admits)


CONTENT_TYPE_PATTERN = r"^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}(;[\x20-\x7e]{0,120})?$"
SHA256_PATTERN = r"^[A-Za-z0-9+/]{43}=$"  # base64 of 32 bytes
MD5_PATTERN = r"^[A-Za-z0-9+/]{22}==$"  # base64 of 16 bytes
UPLOAD_ID_PATTERN = r"^[\x21-\x7e]{1,1024}$"
KEY_DESCRIPTION = (
    "relative to the grant's prefix; refused (403) when it could leave the prefix or mislead the store: '..' "
    "or '.' segments, a leading '/', empty segments, backslashes, %XX sequences, control or invisible "
    "characters, Unicode look-alikes, over 1,024 bytes with the prefix"
)


class _ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Operation
    key: str = Field(min_length=1, max_length=1024, description=KEY_DESCRIPTION)

    def batch_item(self) -> BatchItem:
        """The domain's item, read field by field (model_dump per item cost more than validating it)."""
        get = self.__dict__.get
        return BatchItem(
            self.operation,
            self.key,
            get("content_type"),
            get("checksum_sha256"),
            get("content_md5"),
            get("upload_id"),
            get("part_number"),
        )


class GetItemIn(_ItemIn):
    operation: Literal[Operation.GET]


class PutItemIn(_ItemIn):
    operation: Literal[Operation.PUT]
    content_type: str | None = Field(None, max_length=255, pattern=CONTENT_TYPE_PATTERN, description="signed")
    checksum_sha256: str | None = Field(None, pattern=SHA256_PATTERN, description="S3: the store checks it")
    content_md5: str | None = Field(None, pattern=MD5_PATTERN, description="the store checks it")


class MultipartCreateItemIn(_ItemIn):
    operation: Literal[Operation.MULTIPART_CREATE]
    content_type: str | None = Field(None, max_length=255, pattern=CONTENT_TYPE_PATTERN)


class MultipartPartItemIn(_ItemIn):
    operation: Literal[Operation.MULTIPART_PART]
    upload_id: str = Field(pattern=UPLOAD_ID_PATTERN)
    part_number: Annotated[int, Field(ge=1, le=MAX_PART_NUMBER), JSON_INTEGER]
    checksum_sha256: str | None = Field(None, pattern=SHA256_PATTERN)


class MultipartCompleteItemIn(_ItemIn):
    operation: Literal[Operation.MULTIPART_COMPLETE]
    upload_id: str = Field(pattern=UPLOAD_ID_PATTERN)


class MultipartAbortItemIn(_ItemIn):
    operation: Literal[Operation.MULTIPART_ABORT]
    upload_id: str = Field(pattern=UPLOAD_ID_PATTERN)


UrlItemIn = Annotated[
    GetItemIn
    | PutItemIn
    | MultipartCreateItemIn
    | MultipartPartItemIn
    | MultipartCompleteItemIn
    | MultipartAbortItemIn,
    Field(discriminator="operation"),
]


class UrlBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant: str = Field("default", pattern=GRANT_REF_PATTERN, description="the grant's name or id")
    ttl_seconds: TtlSeconds | None = Field(None, description="default: the grant's (15 min)")
    items: list[UrlItemIn] = Field(min_length=1, max_length=MAX_BATCH)

    def batch_items(self) -> list[BatchItem]:
        return [item.batch_item() for item in self.items]


class SignedUrlOut(BaseModel):
    key: str
    operation: Operation
    method: str
    url: str
    headers: dict[str, str] = Field(description="headers the request must send: they are signed")
    expires_at: datetime


class UrlBatchOut(BaseModel):
    batch_id: str = Field(description="the id of the audit event that records this batch")
    grant: str
    expires_at: datetime
    urls: list[SignedUrlOut]


def url_batch_document(batch: IssuedBatch) -> dict[str, Any]:
    """UrlBatchOut as plain data (times in UTC with a Z), for encoding straight to JSON. URLs of a batch share
    their headers and expiry: each distinct one is converted once."""
    expires = batch.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers: dict[int, dict[str, str]] = {}
    urls: list[dict[str, Any]] = []
    for issued in batch.urls:
        signed = issued.signed
        shared = headers.get(id(signed.headers))
        if shared is None:
            shared = headers[id(signed.headers)] = dict(signed.headers)
        urls.append(
            {
                "key": issued.key,
                "operation": signed.operation,  # a str enum: encoded as its value
                "method": signed.method,
                "url": signed.url,
                "headers": shared,
                "expires_at": expires if signed.expires_at == batch.expires_at else signed.expires_at.isoformat(),
            }
        )
    return {"batch_id": batch.batch_id, "grant": batch.grant.id, "expires_at": expires, "urls": urls}


class GrantOut(BaseModel):
    id: str
    name: str
    backend: str
    bucket: str
    prefix: str
    region: str | None
    endpoint: str | None
    role_arn: str | None
    ttl_default_seconds: int
    ttl_max_seconds: int
    status: str = Field(description="active, revoked, or revoked-by-customer")
    status_reason: str | None
    status_changed_at: datetime
    status_changed_by: str
    probe_status: str | None = Field(description="the last access probe: ok, denied or error")
    probe_detail: str | None
    probed_at: datetime | None

    @classmethod
    def of(cls, grant: Grant, status: str | None = None) -> GrantOut:
        return cls(
            id=grant.id,
            name=grant.name,
            backend=grant.backend.value,
            bucket=grant.bucket,
            prefix=grant.prefix,
            region=grant.region,
            endpoint=grant.endpoint,
            role_arn=grant.role_arn,
            ttl_default_seconds=int(grant.ttl.default.total_seconds()),
            ttl_max_seconds=int(grant.ttl.maximum.total_seconds()),
            status=status or grant.status.value,
            status_reason=grant.status_reason,
            status_changed_at=grant.status_changed_at,
            status_changed_by=grant.status_changed_by,
            probe_status=grant.probe_status,
            probe_detail=grant.probe_detail,
            probed_at=grant.probed_at,
        )


class StorageStatusOut(BaseModel):
    issuing: bool = Field(description="whether any grant issues URLs now")
    grants: list[GrantOut]

    @classmethod
    def of(cls, states: list[GrantState]) -> StorageStatusOut:
        return cls(
            issuing=any(s.status.value == "active" for s in states),
            grants=[GrantOut.of(s.grant, s.status.value) for s in states],
        )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=500, pattern=REASON_PATTERN, description="why (recorded in the audit log)")


class GrantChangeOut(BaseModel):
    grants: list[GrantOut] = Field(description="the grants whose status changed (empty: nothing to do)")
    replicas_notified: bool = Field(description="false: Redis was unreachable; replicas follow within 10 s")


class ExternalIdOut(BaseModel):
    """The ExternalId the customer's role trust must require for one grant name of the tenant."""

    tenant: str
    grant: str = Field(description="the grant name it is for")
    external_id: str = Field(description="generated by Enclave; not a secret (AWS), but only Enclave chooses it")
    created_at: datetime
    created: bool = Field(description="generated by this request; false: the one generated before")

    @classmethod
    def of(cls, value: ExternalId) -> ExternalIdOut:
        return cls(
            tenant=value.tenant,
            grant=value.grant,
            external_id=value.value,
            created_at=value.created_at,
            created=value.created,
        )
