"""Google Cloud Storage V4 signed URLs (GOOG4-RSA-SHA256), computed directly with `cryptography`.

The canonical request is SigV4's with X-Goog-* names; the string to sign is signed with the service
account's RSA key (PKCS#1 v1.5, SHA-256). tests/storage_connector/test_gcs_v4.py runs every case of Google's
published conformance file for the URL styles supported here: path style on any endpoint, virtual-hosted
style, and bucket-bound host names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from storage_connector.sigv4 import amz_date, canonical_headers, canonical_query, uri_encode

ALGORITHM = "GOOG4-RSA-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_ENDPOINT = "https://storage.googleapis.com"


class UrlStyle(StrEnum):
    PATH = "path"  # https://storage.googleapis.com/BUCKET/OBJECT
    VIRTUAL_HOSTED = "virtual-hosted"  # https://BUCKET.storage.googleapis.com/OBJECT
    BUCKET_BOUND = "bucket-bound"  # https://CNAME/OBJECT (a domain mapped to the bucket)


@dataclass(frozen=True)
class GcsLocation:
    """Where URLs point. `endpoint` is scheme://host[:port]; for bucket-bound style, the bound host."""

    endpoint: str = DEFAULT_ENDPOINT
    style: UrlStyle = UrlStyle.PATH

    def target(self, bucket: str, object_name: str | None) -> tuple[str, str, str]:
        """(URL base, host to sign, encoded path)."""
        parts = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
        host = parts.hostname or ""
        netloc = parts.netloc
        if self.style is UrlStyle.VIRTUAL_HOSTED:
            host, netloc = f"{bucket}.{host}", f"{bucket}.{netloc}"
        root = f"/{bucket}" if self.style is UrlStyle.PATH else ""
        path = root + ("" if object_name is None else "/" + uri_encode(object_name, keep_slash=True))
        return f"{parts.scheme}://{netloc}", host, path


@dataclass(frozen=True)
class GcsSignedParts:
    canonical_request: str
    string_to_sign: str
    url: str


def sign_v4(
    *,
    client_email: str,
    sign_bytes: Callable[[bytes], bytes],
    location: GcsLocation,
    bucket: str,
    object_name: str | None,
    method: str,
    now: datetime,
    expires_seconds: int,
    headers: Mapping[str, str] | None = None,
    params: Sequence[tuple[str, str]] = (),
) -> GcsSignedParts:
    """A V4 signed URL. `sign_bytes` signs with the service account's key (RSA-SHA256)."""
    stamp = amz_date(now)
    scope = f"{stamp[:8]}/auto/storage/goog4_request"
    base, host, path = location.target(bucket, object_name)
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    header_block, signed_headers = canonical_headers({**lowered, "host": host})
    payload = lowered.get("x-goog-content-sha256", UNSIGNED_PAYLOAD)
    query = [
        ("X-Goog-Algorithm", ALGORITHM),
        ("X-Goog-Credential", f"{client_email}/{scope}"),
        ("X-Goog-Date", stamp),
        ("X-Goog-Expires", str(expires_seconds)),
        ("X-Goog-SignedHeaders", signed_headers),
        *params,
    ]
    encoded_query = canonical_query([(uri_encode(k), uri_encode(v)) for k, v in query])
    canonical_request = "\n".join((method, path, encoded_query, header_block, signed_headers, payload))
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    signature = sign_bytes(string_to_sign.encode()).hex()
    return GcsSignedParts(
        canonical_request, string_to_sign, f"{base}{path}?{encoded_query}&X-Goog-Signature={signature}"
    )
