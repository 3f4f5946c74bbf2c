"""S3 presigned URLs for each operation, in exactly the form botocore's generate_presigned_url writes them
(virtual-hosted style in every partition; path style for buckets with dots and for a custom endpoint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

from storage_connector.aws_partitions import partition_of_region
from storage_connector.signer import Operation, SignedUrl, UnsupportedOperationError, UrlRequest
from storage_connector.sigv4 import AwsCredentials, SigV4Presigner, uri_encode

USER_PARAMETER = "x-enclave-user"  # S3 ignores "x-" parameters but writes them to its server access log
METHODS = {
    Operation.GET: "GET",
    Operation.PUT: "PUT",
    Operation.MULTIPART_CREATE: "POST",
    Operation.MULTIPART_PART: "PUT",
    Operation.MULTIPART_COMPLETE: "POST",
    Operation.MULTIPART_ABORT: "DELETE",
}


class S3Location:
    """Where a grant's objects are, as botocore's S3 endpoint rule set writes it: virtual-hosted style at the
    region's host in its partition (`bucket.s3.cn-north-1.amazonaws.com.cn`), path style for a bucket with dots
    (it would not match the host's wildcard certificate), and path style on an S3-compatible endpoint, whose own
    path is kept (`https://host/s3api` -> `https://host/s3api/bucket/key`). The host signed is the endpoint's
    host in lower case without a default port, as botocore's `_host_from_url` derives it."""

    __slots__ = ("base", "host", "root")

    def __init__(self, bucket: str, region: str, endpoint: str | None = None) -> None:
        if endpoint is not None:
            parts = urlsplit(endpoint)
            default_port = {"http": 80, "https": 443}.get(parts.scheme)
            host = parts.hostname or ""
            if parts.port is not None and parts.port != default_port:
                host = f"{host}:{parts.port}"
            self.base, self.host, self.root = (
                f"{parts.scheme}://{parts.netloc}",
                host,
                f"{parts.path.rstrip('/')}/{bucket}",
            )
            return
        partition = partition_of_region(region)
        if partition is None:
            raise ValueError(f"{region!r} is not a region of any AWS partition botocore knows")
        regional = partition.s3_host(region)
        if "." in bucket:
            self.base, self.host, self.root = f"https://{regional}", regional, f"/{bucket}"
        else:
            self.host = f"{bucket}.{regional}"
            self.base, self.root = f"https://{self.host}", ""

    def target(self, object_name: str) -> tuple[str, str, str]:
        """(scheme://netloc, host to sign, encoded path)."""
        return self.base, self.host, f"{self.root}/{uri_encode(object_name, keep_slash=True)}"


def _request_parts(request: UrlRequest) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The operation's own query parameters (botocore's order) and the headers signed into the URL."""
    operation = request.operation
    params: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    if operation in (Operation.PUT, Operation.MULTIPART_CREATE) and request.content_type:
        headers["content-type"] = request.content_type
    if operation in (Operation.PUT, Operation.MULTIPART_PART):
        if request.content_md5:
            headers["content-md5"] = request.content_md5
        if request.checksum_sha256:
            headers["x-amz-checksum-sha256"] = request.checksum_sha256
    if operation is Operation.MULTIPART_CREATE:
        params.append(("uploads", ""))
    elif operation in (Operation.MULTIPART_PART, Operation.MULTIPART_COMPLETE, Operation.MULTIPART_ABORT):
        if not request.upload_id:
            raise UnsupportedOperationError(f"{operation.value} needs upload_id")
        params.append(("uploadId", request.upload_id))
        if operation is Operation.MULTIPART_PART:
            if request.part_number is None:
                raise UnsupportedOperationError("multipart-part needs part_number")
            params.append(("partNumber", str(request.part_number)))
    return params, headers


Shape = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], Mapping[str, str]]


def presign(
    presigner: SigV4Presigner,
    location: S3Location,
    credentials: AwsCredentials,
    requests: Sequence[UrlRequest],
    *,
    now: datetime,
    expires_at: datetime,
    principal: str | None,
) -> list[SignedUrl]:
    batch = presigner.batch(credentials, now, int((expires_at - now).total_seconds()))
    shapes: dict[tuple[object, ...], Shape] = {}  # items of a batch mostly share their operation and headers
    urls: list[SignedUrl] = []
    for request in requests:
        key = (
            request.operation,
            request.content_type,
            request.content_md5,
            request.checksum_sha256,
            request.upload_id,
            request.part_number,
        )
        shape = shapes.get(key)
        if shape is None:
            params, headers = _request_parts(request)
            if principal is not None:
                params.append((USER_PARAMETER, principal))
            signed = tuple(sorted(headers.items()))
            shape = shapes[key] = (METHODS[request.operation], tuple(params), signed, MappingProxyType(headers))
        method, params_, signed_headers, headers_ = shape
        base, host, path = location.target(request.object_name)
        query = batch.query(method, host, path, params_, signed_headers)
        urls.append(
            SignedUrl(request.operation, request.object_name, method, f"{base}{path}?{query}", expires_at, headers_)
        )
    return urls
