"""The embedded `local` store, and its grant fields: the gateway signs URLs (HMAC-SHA256) for a directory it
serves itself, so a first run moves real bytes with no cloud account. The same checks a cloud store makes are
made here when a URL is used: signature, expiry, method, content type, MD5 and size.

Multipart uploads work as S3's do, so that a browser can upload a large file in parts and resume after a
network drop: `multipart-create` (POST) answers `{"upload_id"}`; each `multipart-part` (PUT, signed for one
upload id and part number, each part within the size limit) may be sent again and replaces itself;
`multipart-complete` (POST, body `{"parts": [1, 2, ...]}`) joins the listed parts into the object, which appears
whole; `multipart-abort` (DELETE) drops them. Parts wait under `<root>/.multipart/<upload id>/`, outside every
bucket, bound to the bucket and object name they were created for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import shutil
import tempfile
import time
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
    MAX_PART_NUMBER,
    Operation,
    ProbeResult,
    ProbeStatus,
    SignedUrl,
    SigningContext,
    UrlRequest,
)
from storage_connector.spec import GrantSpecBase, Matches
from tenancy.errors import ForbiddenError, InvalidRequestError, NotFoundError, PayloadTooLargeError

ROUTE = "/objects"  # served by enclave/api/routes/storage_local.py, outside the authenticated API
DOMAIN = b"enclave-local-url-v1\n"
METHODS = {
    Operation.GET: "GET",
    Operation.PUT: "PUT",
    Operation.MULTIPART_CREATE: "POST",
    Operation.MULTIPART_PART: "PUT",
    Operation.MULTIPART_COMPLETE: "POST",
    Operation.MULTIPART_ABORT: "DELETE",
}
LIST = "LIST"  # signed in place of a method for a listing URL
UNSUPPORTED: dict[Operation, str] = {}  # every operation has a signed URL here
CHUNK = 1 << 16
MULTIPART_DIR = ".multipart"  # under the store's root, beside the buckets (whose names cannot start with '.')
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32}")
ABANDONED_UPLOAD_SECONDS = 7 * 86_400  # an upload with no new part for a week is dropped (Azure: 7 days too)
SIGNED_FIELDS = frozenset(
    {"expires", "user", "max-bytes", "content-type", "content-md5", "uploads", "upload-id", "part-number"}
)


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


class LocalUploadNotFoundError(NotFoundError):
    """No multipart upload with this id for this object (never created, completed, or aborted)."""

    def __init__(self) -> None:
        super().__init__("no such multipart upload for this object")


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
    creates_upload: bool = False  # multipart-create
    upload_id: str | None = None  # multipart part, complete, abort
    part_number: int | None = None  # multipart part


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
            method = METHODS[request.operation]
            fields = {"expires": expires, "user": context.principal}
            if request.operation is Operation.MULTIPART_CREATE:
                fields["uploads"] = "1"
            if request.upload_id is not None:
                fields["upload-id"] = request.upload_id
            if request.part_number is not None:
                fields["part-number"] = str(request.part_number)
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
        if set(fields) - SIGNED_FIELDS or not {"expires", "user"} <= set(fields):
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
        part = fields.get("part-number")
        return LocalAccess(
            grant_id,
            object_name,
            method,
            fields["user"],
            fields.get("content-type"),
            fields.get("content-md5"),
            int(fields.get("max-bytes", "0")),
            creates_upload=fields.get("uploads") == "1",
            upload_id=fields.get("upload-id"),
            part_number=int(part) if part is not None and part.isdigit() else None,
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

    # -- multipart uploads ---------------------------------------------------------------------------------
    def _upload_dir(self, bucket: str, object_name: str, upload_id: str | None) -> Path:
        """The parts' directory of an upload created for exactly this bucket and object name."""
        if upload_id is None or not UPLOAD_ID.fullmatch(upload_id):
            raise LocalUploadNotFoundError
        directory = self.root / MULTIPART_DIR / upload_id
        try:
            target = json.loads((directory / "target.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            raise LocalUploadNotFoundError from None
        if target != [bucket, object_name]:
            raise LocalUploadNotFoundError
        return directory

    def create_upload(self, bucket: str, object_name: str, now: float | None = None) -> str:
        """A new multipart upload's id (unguessable: 192 random bits). Uploads idle for longer than
        ABANDONED_UPLOAD_SECONDS are dropped first, as Azure drops uncommitted blocks."""
        self._path(bucket, object_name)  # the name is checked now, not only at completion
        self.drop_abandoned_uploads(time.time() if now is None else now)
        upload_id = secrets.token_urlsafe(24)
        directory = self.root / MULTIPART_DIR / upload_id
        directory.mkdir(parents=True)
        (directory / "target.json").write_text(json.dumps([bucket, object_name]), encoding="utf-8")
        return upload_id

    def drop_abandoned_uploads(self, now: float) -> int:
        """Remove the parts of uploads nobody added to for ABANDONED_UPLOAD_SECONDS; how many went."""
        dropped = 0
        uploads = self.root / MULTIPART_DIR
        for directory in uploads.iterdir() if uploads.is_dir() else ():
            try:
                idle = now - directory.stat().st_mtime
            except FileNotFoundError:  # completed or aborted meanwhile
                continue
            if idle > ABANDONED_UPLOAD_SECONDS:
                shutil.rmtree(directory, ignore_errors=True)
                dropped += 1
        return dropped

    def begin_part(self, bucket: str, object_name: str, access: LocalAccess) -> LocalUpload:
        """A part of an upload, written whole on commit (a part sent again replaces the earlier one)."""
        directory = self._upload_dir(bucket, object_name, access.upload_id)
        if access.part_number is None or not 1 <= access.part_number <= MAX_PART_NUMBER:
            raise LocalStoreError(f"part number must be between 1 and {MAX_PART_NUMBER}")
        return LocalUpload(directory / f"part-{access.part_number:05d}", access)

    def complete_upload(self, bucket: str, object_name: str, upload_id: str | None, parts: Sequence[int]) -> int:
        """Join `parts` (ascending part numbers, each uploaded) into the object; its size. The object appears
        whole or not at all, and the upload's parts are gone afterwards."""
        directory = self._upload_dir(bucket, object_name, upload_id)
        if not parts or any(not isinstance(n, int) or isinstance(n, bool) for n in parts):
            raise LocalStoreError("parts must be a non-empty list of part numbers")
        if any(b <= a for a, b in itertools.pairwise(parts)):
            raise LocalStoreError("parts must be listed in ascending order, each once")
        files = [directory / f"part-{n:05d}" for n in parts if 1 <= n <= MAX_PART_NUMBER]
        missing = [n for n, path in zip(parts, files, strict=False) if not path.is_file()]
        if len(files) != len(parts) or missing:
            raise LocalStoreError(f"part {(missing or parts)[0]} was not uploaded")
        path = self._path(bucket, object_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".upload-", delete=False) as joined:
            try:
                for part in files:
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, joined, CHUNK * 16)
            except BaseException:
                os.unlink(joined.name)
                raise
        os.replace(joined.name, path)
        shutil.rmtree(directory, ignore_errors=True)
        return path.stat().st_size

    def abort_upload(self, bucket: str, object_name: str, upload_id: str | None) -> None:
        shutil.rmtree(self._upload_dir(bucket, object_name, upload_id))

    def delete(self, bucket: str, object_name: str) -> bool:
        """Remove an object; False when there was none."""
        path = self._path(bucket, object_name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

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
