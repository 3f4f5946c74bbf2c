"""The GCS backend: its grant fields, V4 signed URLs with the platform's service-account key; the requesting
user rides in a signed `x-goog-custom-audit-*` parameter, which GCS copies into the customer's Cloud Audit
Logs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, model_validator

from storage_connector.gcs_v4 import DEFAULT_ENDPOINT, GcsLocation, UrlStyle, sign_v4
from storage_connector.grants import Backend, Grant
from storage_connector.platform import PlatformCredentials, SignerUnavailableError
from storage_connector.signer import (
    Operation,
    ProbeResult,
    ProbeStatus,
    SignedUrl,
    SigningContext,
    UnsupportedOperationError,
    UrlRequest,
)
from storage_connector.spec import GrantSpecBase, HostEndpoint, Matches, StoredFields
from tenancy.gcp import GCP_PROJECT_ID_RULE, is_gcp_project_id

USER_PARAMETER = "x-goog-custom-audit-enclave-user"
PKCS1, SHA256 = padding.PKCS1v15(), hashes.SHA256()
MAX_AUDIT_VALUE = 1200
_SESSION_URI = (
    "a resumable upload started with multipart-create returns a session URI that takes the parts, finishes "
    "and cancels it unsigned"
)
UNSUPPORTED = {
    operation: f"GCS has no signed URL for {operation.value}: {_SESSION_URI}"
    for operation in (Operation.MULTIPART_PART, Operation.MULTIPART_COMPLETE, Operation.MULTIPART_ABORT)
}
# Bucket names, https://cloud.google.com/storage/docs/buckets#naming: lower-case letters, digits, '-', '_' and
# '.', starting and ending with a letter or digit; 3-63 characters, or up to 222 with dots.
GCS_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"
GcsBucket = Annotated[
    str,
    Matches(
        GCS_BUCKET_PATTERN,
        "a GCS bucket name is 3-222 lower-case letters, digits, '-', '_' and '.', starting and "
        "ending with a letter or digit",
    ),
]


class GcsGrantSpec(GrantSpecBase):
    backend: Literal[Backend.GCS]
    bucket: GcsBucket = Field(description="the GCS bucket")
    endpoint: HostEndpoint | None = Field(
        None,
        max_length=500,
        description="scheme://host[:port]: another API endpoint (path style), or the bucket-bound host name",
    )
    gcs_url_style: Literal["path", "virtual-hosted", "bucket-bound"] = "path"

    @model_validator(mode="after")
    def _bound_host(self) -> Self:
        if self.gcs_url_style == "bucket-bound" and self.endpoint is None:
            raise ValueError("gcs_url_style bucket-bound needs endpoint (the bucket's bound host name)")
        return self

    def stored(self) -> StoredFields:
        endpoint = self.endpoint.rstrip("/") if self.endpoint else None
        return StoredFields(endpoint=endpoint, options={"url_style": self.gcs_url_style})


def unavailable(platform: PlatformCredentials, spec: GrantSpecBase) -> str | None:
    if platform.gcs_key_file is None:
        return "this gateway has no GCS service-account key (ENCLAVE_STORAGE_GCS_KEY_FILE)"
    return None


def open_signer(grant: Grant, platform: PlatformCredentials, clock: Callable[[], datetime]) -> GcsSigner:
    if platform.gcs_key_file is None:
        raise SignerUnavailableError("no GCS service-account key (ENCLAVE_STORAGE_GCS_KEY_FILE)")
    try:
        account = GcsServiceAccount.from_file(platform.gcs_key_file)
    except (OSError, ValueError) as exc:
        raise SignerUnavailableError(f"GCS key file unusable: {type(exc).__name__}") from None
    return GcsSigner(grant, account)


class GcsServiceAccount:
    """The service account's e-mail and RSA key, from a JSON key file."""

    def __init__(self, info: dict[str, Any]) -> None:
        try:
            self.email: str = info["client_email"]
            key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        except (KeyError, ValueError, TypeError):
            raise ValueError("not a service-account key file (client_email, private_key)") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service-account key is not an RSA key")
        project = info.get("project_id")
        if project is not None and not is_gcp_project_id(project):  # the probe lists objects as this project
            raise ValueError(f"the key file's project_id is not a GCP project id ({GCP_PROJECT_ID_RULE})")
        self._key = key
        self.info = info

    @classmethod
    def from_file(cls, path: Path) -> GcsServiceAccount:
        return cls(json.loads(path.read_text()))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, PKCS1, SHA256)

    def __repr__(self) -> str:
        return f"GcsServiceAccount({self.email!r})"


class GcsSigner:
    def __init__(self, grant: Grant, account: GcsServiceAccount) -> None:
        self._grant = grant
        self._account = account
        self._location = GcsLocation(
            grant.endpoint or DEFAULT_ENDPOINT, UrlStyle(grant.options.get("url_style", "path"))
        )

    def credentials_expire_at(self, now: datetime, lifetime: timedelta) -> datetime | None:
        return None  # a key file does not expire; V4 URLs are capped at 7 days by GCS, far above our 1 h

    def sign(self, requests: Sequence[UrlRequest], context: SigningContext) -> list[SignedUrl]:
        expires_seconds = int((context.expires_at - context.now).total_seconds())
        params = [(USER_PARAMETER, context.principal[:MAX_AUDIT_VALUE])]
        urls: list[SignedUrl] = []
        for request in requests:
            method, headers = self._method_and_headers(request)
            signed = sign_v4(
                client_email=self._account.email,
                sign_bytes=self._account.sign,
                location=self._location,
                bucket=self._grant.bucket,
                object_name=request.object_name,
                method=method,
                now=context.now,
                expires_seconds=expires_seconds,
                headers=headers,
                params=params,
            )
            urls.append(
                SignedUrl(request.operation, request.object_name, method, signed.url, context.expires_at, headers)
            )
        return urls

    def sign_list(self, prefix: str, marker: str | None, context: SigningContext) -> SignedUrl:
        """A V4-signed XML API listing (list-type=2) of the objects under `prefix`, from `marker` (the previous
        page's NextContinuationToken). https://cloud.google.com/storage/docs/xml-api/get-bucket-list"""
        params = [("list-type", "2"), ("prefix", prefix)]
        if marker is not None:
            params.append(("continuation-token", marker))
        signed = sign_v4(
            client_email=self._account.email,
            sign_bytes=self._account.sign,
            location=self._location,
            bucket=self._grant.bucket,
            object_name=None,
            method="GET",
            now=context.now,
            expires_seconds=int((context.expires_at - context.now).total_seconds()),
            params=params,
        )
        return SignedUrl(Operation.GET, prefix, "GET", signed.url, context.expires_at)

    @staticmethod
    def _method_and_headers(request: UrlRequest) -> tuple[str, dict[str, str]]:
        headers: dict[str, str] = {}
        if request.content_type and request.operation in (Operation.PUT, Operation.MULTIPART_CREATE):
            headers["content-type"] = request.content_type
        if request.operation is Operation.GET:
            return "GET", headers
        if request.operation is Operation.PUT:
            if request.content_md5:
                headers["content-md5"] = request.content_md5
            return "PUT", headers
        if request.operation is Operation.MULTIPART_CREATE:
            headers["x-goog-resumable"] = "start"
            return "POST", headers
        raise UnsupportedOperationError(UNSUPPORTED[request.operation])

    def probe(self) -> ProbeResult:
        """A header-authenticated LIST on the prefix with the platform's service account."""
        from google.api_core import exceptions
        from google.cloud import storage
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_info(self._account.info)  # type: ignore[no-untyped-call]
        options = (
            {"api_endpoint": self._grant.endpoint}
            if self._grant.endpoint and self._location.style is UrlStyle.PATH
            else None
        )
        client = storage.Client(
            project=self._account.info.get("project_id"), credentials=credentials, client_options=options
        )
        try:
            next(iter(client.list_blobs(self._grant.bucket, prefix=self._grant.prefix, max_results=1, timeout=5)), None)
        except (exceptions.Forbidden, exceptions.Unauthorized) as exc:
            return ProbeResult(ProbeStatus.DENIED, f"objects.list: {exc.code}")
        except Exception as exc:
            return ProbeResult(ProbeStatus.ERROR, f"objects.list: {type(exc).__name__}")
        return ProbeResult(ProbeStatus.OK, "objects.list on the prefix succeeded")
