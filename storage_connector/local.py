"""The embedded `local` store, and its grant fields: the gateway signs URLs (HMAC-SHA256) for a directory it
serves itself, so a first run moves real bytes with no cloud account. The same checks a cloud store makes are
made here when a URL is used: signature, expiry, method, content type, MD5 and size."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from pydantic import Field

from storage_connector.grants import Backend, Grant
from storage_connector.keys import KeyPolicyError, object_key
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
from storage_connector.spec import GrantSpecBase, Matches
from tenancy.errors import ForbiddenError, InvalidRequestError, PayloadTooLargeError

ROUTE = "/objects"  # served by enclave/api/routes/storage_local.py, outside the authenticated API
DOMAIN = b"enclave-local-url-v1\n"
METHODS = {Operation.GET: "GET", Operation.PUT: "PUT"}
LIST = "LIST"  # signed in place of a method for a listing URL
UNSUPPORTED = {
    operation: f"the local store has no {operation.value}; upload with one put (up to the gateway's "
    "ENCLAVE_STORAGE_LOCAL_MAX_UPLOAD_BYTES)"
    for operation in Operation
    if operation not in METHODS
}
CHUNK = 1 << 16


LocalBucket = Annotated[
    str, Matches(r"^[a-z0-9][a-z0-9-]{0,61}$", "a directory name of 1-62 lower-case letters, digits and hyphens")
]


class LocalGrantSpec(GrantSpecBase):
    backend: Literal[Backend.LOCAL]
    bucket: LocalBucket = Field("data", description="a directory of the local store")


def unavailable(platform: PlatformCredentials, spec: GrantSpecBase) -> str | None:
    return "the local store's signing key is not loaded" if platform.local_key is None else None


def open_signer(grant: Grant, platform: PlatformCredentials, clock: Callable[[], datetime]) -> LocalSigner:
    if platform.local_key is None:
        raise SignerUnavailableError("the local store's signing key is not loaded")
    return LocalSigner(
        grant_id=grant.id,
        key=platform.local_key,
        base_url=platform.local_base_url,
        max_upload_bytes=platform.local_max_upload_bytes,
    )


class LocalUrlError(ForbiddenError):
    """A local URL that does not grant what is asked (bad signature, expired, wrong method, ...)."""


class LocalStoreError(InvalidRequestError):
    """An upload or name the store refuses (wrong checksum, a name outside the bucket); nothing is written."""


class LocalUploadTooLargeError(PayloadTooLargeError, LocalStoreError):
    """An upload larger than its URL allows; nothing is written."""


def load_or_create_key(path: Path) -> bytes:
    """The HMAC key shared by every gateway process on this data directory (created owner-readable)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def _string_to_sign(method: str, grant_id: str, object_name: str, fields: Mapping[str, str]) -> bytes:
    lines = [method, grant_id, object_name, *(f"{k}={fields[k]}" for k in sorted(fields))]
    return DOMAIN + "\n".join(lines).encode()


@dataclass(frozen=True)
class LocalAccess:
    """What a verified URL allows."""

    grant_id: str
    object_name: str
    method: str
    user: str
    content_type: str | None
    content_md5: str | None
    max_bytes: int


class LocalSigner:
    def __init__(self, *, grant_id: str, key: bytes, base_url: str, max_upload_bytes: int) -> None:
        self.grant_id = grant_id
        self._key = key
        self._base_url = base_url.rstrip("/")
        self._max_upload_bytes = max_upload_bytes

    def credentials_expire_at(self, now: datetime, lifetime: timedelta) -> datetime | None:
        return None

    def sign(self, requests: Sequence[UrlRequest], context: SigningContext) -> list[SignedUrl]:
        urls: list[SignedUrl] = []
        expires = str(int(context.expires_at.timestamp()))
        for request in requests:
            method = METHODS.get(request.operation)
            if method is None:
                raise UnsupportedOperationError(UNSUPPORTED[request.operation])
            fields = {"expires": expires, "user": context.principal}
            headers: dict[str, str] = {}
            if method == "PUT":
                fields["max-bytes"] = str(self._max_upload_bytes)
                if request.content_type:
                    fields["content-type"] = headers["content-type"] = request.content_type
                if request.content_md5:
                    fields["content-md5"] = headers["content-md5"] = request.content_md5
            signature = hmac.new(
                self._key, _string_to_sign(method, self.grant_id, request.object_name, fields), hashlib.sha256
            ).hexdigest()
            query = urlencode({**fields, "signature": signature}, quote_via=quote)
            path = f"{ROUTE}/{self.grant_id}/{quote(request.object_name, safe='/~')}"
            urls.append(
                SignedUrl(
                    request.operation,
                    request.object_name,
                    method,
                    f"{self._base_url}{path}?{query}",
                    context.expires_at,
                    headers,
                )
            )
        return urls

    def sign_list(self, prefix: str, marker: str | None, context: SigningContext) -> SignedUrl:
        """A signed listing of the objects under `prefix` (the method signed is LIST, so it never passes for a
        download); the whole listing comes in one answer, so `marker` is unused."""
        fields = {"expires": str(int(context.expires_at.timestamp())), "user": context.principal}
        signature = hmac.new(
            self._key, _string_to_sign(LIST, self.grant_id, prefix, fields), hashlib.sha256
        ).hexdigest()
        query = urlencode({**fields, "signature": signature}, quote_via=quote)
        path = f"{ROUTE}/{self.grant_id}/{quote(prefix, safe='/~')}"
        return SignedUrl(Operation.GET, prefix, LIST, f"{self._base_url}{path}?list=1&{query}", context.expires_at)

    def probe(self) -> ProbeResult:
        return ProbeResult(ProbeStatus.OK, "local store: served by the gateway itself")

    def verify(
        self, method: str, grant_id: str, object_name: str, query: Mapping[str, str], now: datetime
    ) -> LocalAccess:
        """Check a URL as the store would; LocalUrlError with the reason otherwise."""
        fields = {k: v for k, v in query.items() if k != "signature"}
        allowed = {"expires", "user", "max-bytes", "content-type", "content-md5"}
        if set(fields) - allowed or not {"expires", "user"} <= set(fields):
            raise LocalUrlError("the URL's parameters are not those of a signed URL")
        expected = hmac.new(self._key, _string_to_sign(method, grant_id, object_name, fields), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), query.get("signature", "")):
            raise LocalUrlError("signature does not match (tampered URL, or another method or object)")
        try:
            expires = datetime.fromtimestamp(int(fields["expires"]), UTC)
        except (ValueError, OverflowError):
            raise LocalUrlError("expiry is not a time") from None
        if now >= expires:
            raise LocalUrlError("the URL has expired")
        return LocalAccess(
            grant_id,
            object_name,
            method,
            fields["user"],
            fields.get("content-type"),
            fields.get("content-md5"),
            int(fields.get("max-bytes", "0")),
        )


class LocalUpload:
    """Bytes streamed to a temporary file beside the object; the object appears only on commit, whole."""

    def __init__(self, path: Path, access: LocalAccess) -> None:
        self._path = path
        self._access = access
        self._digest = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self._handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".upload-", delete=False)  # noqa: SIM115

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._access.max_bytes:
            raise LocalUploadTooLargeError(f"upload is larger than the URL allows ({self._access.max_bytes} bytes)")
        self._digest.update(chunk)
        self._handle.write(chunk)

    def commit(self) -> int:
        self._handle.close()
        md5 = base64.b64encode(self._digest.digest()).decode()
        if self._access.content_md5 is not None and md5 != self._access.content_md5:
            raise LocalStoreError("content does not match the signed Content-MD5")
        os.replace(self._handle.name, self._path)
        return self.size

    def discard(self) -> None:
        """Remove the temporary file if it is still there (after a failure; a no-op after commit)."""
        self._handle.close()
        if os.path.exists(self._handle.name):
            os.unlink(self._handle.name)


class LocalStore:
    """Objects as files under root/bucket/. Names are re-checked against the key policy before any path is
    built, and the final path must stay under the bucket directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, bucket: str, object_name: str) -> Path:
        try:
            object_key("", object_name)
        except KeyPolicyError as exc:
            raise LocalStoreError(str(exc)) from None
        base = (self.root / bucket).resolve()
        path = (base / object_name).resolve()
        if base not in path.parents:
            raise LocalStoreError("object name leaves the bucket directory")
        return path

    def begin_upload(self, bucket: str, object_name: str, access: LocalAccess) -> LocalUpload:
        path = self._path(bucket, object_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return LocalUpload(path, access)

    def write(self, bucket: str, object_name: str, chunks: Iterator[bytes], access: LocalAccess) -> int:
        upload = self.begin_upload(bucket, object_name, access)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit()
        finally:
            upload.discard()

    def open(self, bucket: str, object_name: str) -> Path | None:
        path = self._path(bucket, object_name)
        return path if path.is_file() else None

    def list(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """(object name, size) of every object whose name starts with `prefix`, in name order (temporary upload
        files are not objects)."""
        base = (self.root / bucket).resolve()
        folder, _, _ = prefix.rpartition("/")
        start = self._path(bucket, folder) if folder else base
        if not start.is_dir():
            return []
        found = []
        for path in start.rglob("*"):
            name = path.relative_to(base).as_posix()
            if path.is_file() and name.startswith(prefix) and not path.name.startswith(".upload-"):
                found.append((name, path.stat().st_size))
        return sorted(found)
