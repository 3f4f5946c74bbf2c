"""The one interface every store's signer implements, and the values that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple, Protocol


class Operation(StrEnum):
    GET = "get"
    PUT = "put"
    MULTIPART_CREATE = "multipart-create"  # S3 CreateMultipartUpload; GCS: start a resumable upload
    MULTIPART_PART = "multipart-part"  # S3 UploadPart; Azure: Put Block
    MULTIPART_COMPLETE = "multipart-complete"  # S3 CompleteMultipartUpload; Azure: Put Block List
    MULTIPART_ABORT = "multipart-abort"  # S3 AbortMultipartUpload


WRITE_OPERATIONS = frozenset(Operation) - {Operation.GET}
MAX_PART_NUMBER = 10_000


class UnsupportedOperationError(ValueError):
    """The store has no signed-URL form of this operation; the message says what to use instead."""


class ProbeStatus(StrEnum):
    OK = "ok"
    DENIED = "denied"  # the store or the customer's identity service refused: access was revoked
    ERROR = "error"  # could not tell (network, throttling); nothing is concluded


@dataclass(frozen=True)
class ProbeResult:
    status: ProbeStatus
    detail: str  # what was tried and what came back, without secrets


# The values a batch carries one of per item are named tuples, not frozen dataclasses: as immutable, and a
# fifth of the cost to build (a frozen dataclass's __init__ goes through object.__setattr__ per field), which
# counts four times per item in a batch of 1,000.
class UrlRequest(NamedTuple):
    """One operation on one full object name (already confined to the grant's prefix)."""

    operation: Operation
    object_name: str
    content_type: str | None = None  # put: signed, the upload must send it
    checksum_sha256: str | None = None  # put / part: base64 SHA-256 the store enforces (S3)
    content_md5: str | None = None  # put: base64 MD5 the store enforces (GCS, Azure, local)
    upload_id: str | None = None  # multipart part / complete / abort
    part_number: int | None = None  # multipart part, 1..10000


@dataclass(frozen=True)
class SigningContext:
    """What every URL of one batch shares."""

    expires_at: datetime  # already bounded by the TTL policy and the credentials' lifetime
    now: datetime
    principal: str  # who asked; carried in the URL where the store logs it
    batch_id: str  # the audit event id of the batch (Azure: the signed correlation id)


NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class SignedUrl(NamedTuple):
    operation: Operation
    object_name: str
    method: str
    url: str
    expires_at: datetime
    headers: Mapping[str, str] = NO_HEADERS  # headers the request must send as signed


class Signer(Protocol):
    """Signs URLs for one grant. Implementations hold no state about revocation or policy."""

    def credentials_expire_at(self, now: datetime, lifetime: timedelta) -> datetime | None:
        """When the credentials that would sign a URL of `lifetime` now expire (None: they do not); a
        signer may refresh them first."""
        ...

    def sign(self, requests: Sequence[UrlRequest], context: SigningContext) -> list[SignedUrl]:
        """One URL per request, in order. A batch may be signed in several calls (slices) with one context;
        by then the service has checked every operation against the backend's registration."""
        ...

    def probe(self) -> ProbeResult:
        """Use the platform's own access to the grant (not a signed URL) to see whether it still works."""
        ...
