"""Put, get and list objects under a grant's prefix, through the grant's own signer: every request is a URL the
signer signed (the same path a user's signed URL takes), sent with plain HTTP. The platform holds no other
access to the customer's bucket, so a grant the customer revoked stops these requests too.

- put: a signed PUT with the content's MD5 and SHA-256 (the store refuses a body that differs) and, being
  append-only, never over an existing object: an object already there with the same bytes is left as it is (a
  retried write), one with other bytes is refused (ObjectExistsError). S3 and Azure also get `If-None-Match: *`
  so that a concurrent writer cannot slip in between the check and the write.
- get: a signed GET; None for an object that does not exist.
- list: signed listings, paged: S3 ListObjectsV2, the GCS XML API (list-type=2), Azure List Blobs with a
  container SAS, the local store's own listing.

The local store is served by the gateway itself: `local_http` gives a client whose transport checks each URL
exactly as the gateway's object route does (LocalSigner.verify) and reads and writes through LocalStore.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

import httpx

from audit.events import new_event_id, utc_now
from storage_connector.grants import Backend, Grant
from storage_connector.keys import KeyPolicyError, object_key, relative_key
from storage_connector.local import LIST, ROUTE, LocalSigner, LocalStore, LocalUrlError
from storage_connector.signer import Operation, SignedUrl, Signer, SigningContext, UrlRequest

URL_LIFETIME = timedelta(minutes=5)
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_PAGES = 10_000
MAX_LISTING_BYTES = 16 * 1024 * 1024  # a page lists at most 5,000 names (Azure), 1,000 (S3, GCS)
PRINCIPAL = "enclave-audit-sync"


class ListingSigner(Signer, Protocol):
    """A signer that can also sign a listing of the keys under a prefix (every backend's signer does)."""

    def sign_list(self, prefix: str, marker: str | None, context: SigningContext) -> SignedUrl: ...


class ObjectStoreError(RuntimeError):
    """A request to the store failed (refused, unreachable, malformed answer). The message names the object and
    the store's status, never the signed URL."""

    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied  # the store refused access: the grant is probably revoked


class ObjectExistsError(ObjectStoreError):
    """An append-only write found another object under the name."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the grant's prefix
    size: int


class GrantObjects:
    """Objects under one grant's prefix. Keys are relative to the prefix and pass the key policy."""

    def __init__(
        self,
        grant: Grant,
        signer: ListingSigner,
        http: httpx.Client,
        *,
        clock: Callable[[], datetime] = utc_now,
        principal: str = PRINCIPAL,
    ) -> None:
        self.grant = grant
        self._signer = signer
        self._http = http
        self._clock = clock
        self._principal = principal

    def _context(self) -> SigningContext:
        now = self._clock()
        return SigningContext(now + URL_LIFETIME, now, self._principal, new_event_id())

    def _name(self, key: str) -> str:
        try:
            return object_key(self.grant.prefix, key)
        except KeyPolicyError as exc:
            raise ObjectStoreError(f"object key {key!r} refused: {exc}") from None

    def _send(
        self, what: str, url: SignedUrl, content: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> httpx.Response:
        try:
            return self._http.request(url.method, url.url, content=content, headers={**url.headers, **headers})
        except httpx.HTTPError as exc:
            raise ObjectStoreError(f"{what}: the store did not answer ({type(exc).__name__})") from None

    def get(self, key: str) -> bytes | None:
        name = self._name(key)
        (url,) = self._signer.sign([UrlRequest(Operation.GET, name)], self._context())
        response = self._send(f"reading {key}", url)
        if response.status_code == 404:
            return None
        _check(response, f"reading {key}")
        return response.content

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Write `data` under `key` unless it is already there; True when written, False when the same bytes
        were there already. ObjectExistsError when other bytes are."""
        existing = self.get(key)
        if existing is not None:
            if existing == data:
                return False
            raise ObjectExistsError(f"{key} already exists with other content; append-only objects are never replaced")
        request = UrlRequest(
            Operation.PUT,
            self._name(key),
            content_type=content_type,
            content_md5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
            checksum_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
        )
        (url,) = self._signer.sign([request], self._context())
        conditional = {"If-None-Match": "*"} if self.grant.backend in (Backend.S3, Backend.AZURE) else {}
        response = self._send(f"writing {key}", url, data, conditional)
        if response.status_code in (409, 412):
            raise ObjectExistsError(
                f"{key} was written by someone else meanwhile; append-only objects are never replaced"
            )
        _check(response, f"writing {key}")
        return True

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order."""
        full = self.grant.prefix + prefix
        found: list[ObjectInfo] = []
        marker: str | None = None
        for _ in range(MAX_PAGES):
            url = self._signer.sign_list(full, marker, self._context())
            response = self._send(f"listing {prefix or '/'}", url)
            _check(response, f"listing {prefix or '/'}")
            names, marker = _parse_listing(self.grant.backend, response)
            for name, size in names:
                try:
                    found.append(ObjectInfo(relative_key(self.grant.prefix, name), size))
                except KeyPolicyError:
                    raise ObjectStoreError(f"the store listed {name!r}, outside the grant's prefix") from None
            if marker is None:
                return sorted(found, key=lambda info: info.key)
        raise ObjectStoreError(f"listing {prefix or '/'} did not end after {MAX_PAGES} pages")


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code < 300:
        return
    denied = response.status_code in (401, 403)
    raise ObjectStoreError(f"{what}: the store answered HTTP {response.status_code}", denied=denied)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local_name(child.tag) == name]


def _text(element: ElementTree.Element, name: str) -> str | None:
    found = _children(element, name)
    return found[0].text if found else None


def _parse_listing(backend: Backend, response: httpx.Response) -> tuple[list[tuple[str, int]], str | None]:
    """(name, size) pairs and the next page's marker (None: last page), from the store's own format."""
    if backend is Backend.LOCAL:
        data = response.json()
        return [(item["name"], int(item["size"])) for item in data["objects"]], None
    if len(response.content) > MAX_LISTING_BYTES:
        raise ObjectStoreError("the store's listing page is larger than any real one")
    try:
        # The store is the customer's: expat (2.4+) refuses entity-expansion bombs and ElementTree resolves no
        # external entity; defusedxml would add nothing here.
        root = ElementTree.fromstring(response.content)  # noqa: S314
    except ElementTree.ParseError:
        raise ObjectStoreError("the store's listing is not XML") from None
    if backend is Backend.AZURE:  # EnumerationResults/Blobs/Blob/{Name, Properties/Content-Length}, NextMarker
        blobs = [blob for group in _children(root, "Blobs") for blob in _children(group, "Blob")]
        names = []
        for blob in blobs:
            properties = _children(blob, "Properties")
            size = _text(properties[0], "Content-Length") if properties else None
            names.append((_text(blob, "Name") or "", int(size or 0)))
        return names, _text(root, "NextMarker") or None
    # ListBucketResult/Contents/{Key, Size}, IsTruncated, NextContinuationToken (S3 and the GCS XML API)
    names = [(_text(item, "Key") or "", int(_text(item, "Size") or 0)) for item in _children(root, "Contents")]
    truncated = (_text(root, "IsTruncated") or "false").lower() == "true"
    return names, _text(root, "NextContinuationToken") if truncated else None


class LocalStoreTransport(httpx.BaseTransport):
    """Serves a local grant's signed URLs in process, with the gateway's own checks: the signature (method,
    object, expiry, content type and MD5, size) through LocalSigner.verify, then LocalStore."""

    def __init__(self, signer: LocalSigner, store: LocalStore, bucket: str, clock: Callable[[], datetime] = utc_now):
        self._signer = signer
        self._store = store
        self._bucket = bucket
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parts = urlsplit(str(request.url))
        prefix = f"{ROUTE}/{self._signer.grant_id}/"
        if not parts.path.startswith(prefix):
            return httpx.Response(404)
        name = unquote(parts.path[len(prefix) :])
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        listing = query.pop("list", None) == "1"
        method = LIST if listing and request.method == "GET" else request.method
        try:
            access = self._signer.verify(method, self._signer.grant_id, name, query, self._clock())
        except LocalUrlError as exc:
            return httpx.Response(403, text=str(exc))
        if access.upload_id is not None or access.creates_upload:
            return httpx.Response(405, text="multipart uploads go through the gateway's object route")
        if listing:
            objects = [{"name": found, "size": size} for found, size in self._store.list(self._bucket, name)]
            return httpx.Response(200, content=json.dumps({"objects": objects}).encode())
        if request.method == "GET":
            path = self._store.open(self._bucket, name)
            return httpx.Response(404) if path is None else httpx.Response(200, content=path.read_bytes())
        if request.method == "PUT":
            if access.content_type is not None and request.headers.get("content-type") != access.content_type:
                return httpx.Response(403, text="Content-Type differs from the one the URL was signed for")
            if access.content_md5 is not None and request.headers.get("content-md5") != access.content_md5:
                return httpx.Response(403, text="Content-MD5 differs from the one the URL was signed for")
            upload = self._store.begin_upload(self._bucket, name, access)
            try:
                upload.write(request.read())
                upload.commit()
            except Exception as exc:
                return httpx.Response(400, text=type(exc).__name__)
            finally:
                upload.discard()
            return httpx.Response(201)
        return httpx.Response(405)


def local_http(
    signer: LocalSigner, store: LocalStore, bucket: str, clock: Callable[[], datetime] = utc_now
) -> httpx.Client:
    """An HTTP client for a local grant's signed URLs (see LocalStoreTransport)."""
    return httpx.Client(transport=LocalStoreTransport(signer, store, bucket, clock), timeout=TIMEOUT)


def cloud_http(verify: bool | str = True) -> httpx.Client:
    """An HTTP client for a cloud store's signed URLs (`verify`: a CA bundle for an emulator)."""
    return httpx.Client(timeout=TIMEOUT, verify=verify, follow_redirects=False)


def grant_objects(grant: Grant, signer: Signer, local_store: LocalStore | None = None) -> GrantObjects:
    """The objects of `grant` through `signer` (Signers.for_grant): for a local grant, in process through
    `local_store` (the gateway's local store directory); for a cloud grant, over HTTPS. The caller checks the
    grant is active first (a revoked grant must not be written to, whatever the store would allow)."""
    if not hasattr(signer, "sign_list"):
        raise ObjectStoreError(f"the {grant.backend.value} signer cannot list objects")
    listing = cast(ListingSigner, signer)
    if grant.backend is Backend.LOCAL:
        if local_store is None or not isinstance(signer, LocalSigner):
            raise ObjectStoreError("a local grant's objects need the gateway's local store")
        return GrantObjects(grant, listing, local_http(signer, local_store, grant.bucket))
    return GrantObjects(grant, listing, cloud_http())
