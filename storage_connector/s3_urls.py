"""S3 presigned URLs for each operation, in exactly the form botocore's generate_presigned_url writes them
(virtual-hosted style in every partition; path style for buckets with dots and for a custom endpoint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

from storage_connector.aws_partitions import partition_of_region
from storage_connector.signer import Operation, SignedUrl, UnsupportedOperationError, UrlRequest
from storage_connector.sigv4 import AwsCredentials, PresignShape, SigV4Presigner, uri_encode

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
    host in lower case without a default port, as botocore's `_host_from_url` derives it. A URL is
    `{base}{root}/{encoded key}`, signed for `host`."""

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
    # The items of a batch mostly share their operation and headers: one shape each, keyed by every field of
    # the request but its object name.
    shapes: dict[tuple[object, ...], tuple[str, PresignShape, Mapping[str, str]]] = {}
    base, host, root = location.base, location.host, location.root
    urls: list[SignedUrl] = []
    for request in requests:
        key = (request[0], *request[2:])
        shape = shapes.get(key)
        if shape is None:
            params, headers = _request_parts(request)
            if principal is not None:
                params.append((USER_PARAMETER, principal))
            method = METHODS[request.operation]
            signer = batch.shape(method, host, tuple(params), tuple(sorted(headers.items())))
            shape = shapes[key] = (method, signer, MappingProxyType(headers))
        method, signer, signed_headers = shape
        path = f"{root}/{uri_encode(request.object_name, keep_slash=True)}"
        url = f"{base}{path}?{signer.query(path)}"
        urls.append(SignedUrl(request.operation, request.object_name, method, url, expires_at, signed_headers))
    return urls
