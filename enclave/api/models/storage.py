"""Storage: URL batches, grants and their status as the API takes and shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storage_connector.grants import REASON_PATTERN, Backend, Grant, GrantSpec, parse_spec
from storage_connector.service import MAX_BATCH, GrantState, IssuedBatch
from storage_connector.signer import MAX_PART_NUMBER, Operation
from storage_connector.ttl import DEFAULT_TTL, HARD_MAX_TTL

GRANT_REF_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"  # a grant's name or its 16-hex id


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

    key: str = Field(min_length=1, max_length=1024, description=KEY_DESCRIPTION)


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
    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
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
    ttl_seconds: int | None = Field(
        None, ge=1, le=int(HARD_MAX_TTL.total_seconds()), description="default: the grant's (15 min)"
    )
    items: list[UrlItemIn] = Field(min_length=1, max_length=MAX_BATCH)


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
    """UrlBatchOut as plain data (times in UTC with a Z), for encoding straight to JSON."""
    expires = batch.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "batch_id": batch.batch_id,
        "grant": batch.grant.id,
        "expires_at": expires,
        "urls": [
            {
                "key": u.key,
                "operation": u.signed.operation.value,
                "method": u.signed.method,
                "url": u.signed.url,
                "headers": dict(u.signed.headers),
                "expires_at": expires if u.signed.expires_at == batch.expires_at else u.signed.expires_at.isoformat(),
            }
            for u in batch.urls
        ],
    }


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


# -- connecting a grant: one model per backend, whose schema admits exactly what the gateway accepts ------
_SEGMENT = r"[A-Za-z0-9_=-][A-Za-z0-9_.=-]*"  # ASCII, never "." or ".." (a segment cannot start with a dot)
PREFIX_PATTERN = rf"^({_SEGMENT}/)*({_SEGMENT})?$"
ENDPOINT_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
REGION_PATTERN = r"^[a-z0-9-]{2,64}$"


class _GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", pattern=GRANT_REF_PATTERN, description="names the grant within the tenant")
    prefix: str = Field("", max_length=255, pattern=PREFIX_PATTERN, description="the tenant's prefix")
    ttl_max_seconds: int = Field(
        int(HARD_MAX_TTL.total_seconds()),
        ge=1,
        le=int(HARD_MAX_TTL.total_seconds()),
        description="longest URL lifetime; the default lifetime is 15 minutes or this, if shorter",
    )
    reason: str | None = Field(
        None, max_length=500, pattern=REASON_PATTERN, description="why (recorded in the audit log)"
    )

    def spec(self) -> GrantSpec:
        values = self.model_dump(exclude={"reason"}, exclude_none=True)
        values["ttl_default_seconds"] = min(int(DEFAULT_TTL.total_seconds()), self.ttl_max_seconds)
        if isinstance(self, AzureGrantIn):
            values["azure_auth"] = "stored-policy" if self.azure_policy_id else "user-delegation"
        return parse_spec(values)


class S3GrantIn(_GrantIn):
    backend: Literal[Backend.S3]
    bucket: str = Field(
        min_length=3, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
    )
    region: str = Field(pattern=REGION_PATTERN)
    endpoint: str | None = Field(None, max_length=500, pattern=ENDPOINT_PATTERN)
    role_arn: str = Field(
        max_length=300, pattern=r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,200}$"
    )
    external_id: str = Field(pattern=r"^[A-Za-z0-9_+=,.@:/-]{2,256}$")


class GcsGrantIn(_GrantIn):
    backend: Literal[Backend.GCS]
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
    endpoint: str | None = Field(None, max_length=500, pattern=ENDPOINT_PATTERN)
    gcs_url_style: Literal["path", "virtual-hosted"] = "path"


class AzureGrantIn(_GrantIn):
    backend: Literal[Backend.AZURE]
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="container")
    azure_account: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    azure_policy_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]{1,62}$", description="stored-policy SAS; without it, user-delegation SAS"
    )
    endpoint: str | None = Field(None, max_length=500, pattern=ENDPOINT_PATTERN)


class LocalGrantIn(_GrantIn):
    backend: Literal[Backend.LOCAL]
    bucket: str = Field("data", pattern=r"^[a-z0-9][a-z0-9-]{0,61}$", description="a directory of the local store")


GrantConnectIn = Annotated[S3GrantIn | GcsGrantIn | AzureGrantIn | LocalGrantIn, Field(discriminator="backend")]
