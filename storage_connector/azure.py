"""The Azure backend: its grant fields; service SAS bound to a stored access policy (customer IT deletes the
policy and every outstanding URL stops at once), or user-delegation SAS (signed with a key Azure AD issues to
the platform's identity; the batch's audit event id rides as the signed correlation id, `scid`, into the
customer's storage logs). SAS strings come from azure-storage-blob's own generate_blob_sas."""

from __future__ import annotations

import base64
import functools
import hmac
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from urllib.parse import quote

from pydantic import Field, model_validator

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
from storage_connector.spec import Endpoint, GrantSpecBase, Matches, StoredFields

if TYPE_CHECKING:  # the SDK is imported when a signer is opened, not when grants are validated
    from azure.storage.blob import UserDelegationKey

# Operation -> (HTTP method, SAS permission). With stored-policy SAS the permission lives in the policy: the
# container carries two, "<policy id>-r" (read) and "<policy id>-w" (create, write), so that a read URL
# cannot write; the URL carries only its own expiry (Azure refuses a field set in both places).
PERMISSIONS = {
    Operation.GET: ("GET", "r"),
    Operation.PUT: ("PUT", "cw"),
    Operation.MULTIPART_PART: ("PUT", "w"),  # Put Block
    Operation.MULTIPART_COMPLETE: ("PUT", "w"),  # Put Block List
}
UNSUPPORTED = {
    Operation.MULTIPART_CREATE: "Azure has no multipart-create: upload blocks with multipart-part and commit them "
    "with multipart-complete (Put Block List)",
    Operation.MULTIPART_ABORT: "Azure has no multipart-abort: uncommitted blocks are discarded after 7 days",
}
DELEGATION_KEY_LIFETIME = timedelta(hours=6)
DELEGATION_KEY_MARGIN = timedelta(minutes=70)  # never sign an up-to-1-hour URL with a key about to expire


# Container names, https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata:
# 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit. Storage
# account names: 3-24 lower-case letters and digits. A stored access policy id is at most 64 characters; '-r' and
# '-w' are appended to ours.
AZURE_CONTAINER_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
AZURE_ACCOUNT_PATTERN = r"^[a-z0-9]{3,24}$"
AZURE_POLICY_PATTERN = r"^[A-Za-z0-9_.-]{1,62}$"
Container = Annotated[
    str, Matches(AZURE_CONTAINER_PATTERN, "a container name is lower-case letters, digits and single hyphens")
]
Account = Annotated[str, Matches(AZURE_ACCOUNT_PATTERN, "a storage account name is 3-24 lower-case letters and digits")]
PolicyId = Annotated[str, Matches(AZURE_POLICY_PATTERN, "1-62 of [A-Za-z0-9_.-] ('-r' and '-w' are appended)")]


class AzureGrantSpec(GrantSpecBase):
    backend: Literal[Backend.AZURE]
    bucket: Container = Field(min_length=3, max_length=63, description="the container")
    azure_account: Account = Field(description="the storage account")
    azure_auth: Literal["stored-policy", "user-delegation"] | None = Field(
        None, description="default: stored-policy with azure_policy_id, user-delegation without"
    )
    azure_policy_id: PolicyId | None = Field(None, description="stored-policy SAS: the policies <id>-r and <id>-w")
    endpoint: Endpoint | None = Field(None, max_length=500, description="the account's blob endpoint (an emulator's)")

    @model_validator(mode="after")
    def _auth(self) -> Self:
        if self.auth == "stored-policy" and self.azure_policy_id is None:
            raise ValueError("azure stored-policy SAS needs azure_policy_id ('-r' and '-w' are appended)")
        if self.auth == "user-delegation" and self.azure_policy_id is not None:
            raise ValueError("azure_policy_id is only for stored-policy SAS")
        return self

    @property
    def auth(self) -> str:
        return self.azure_auth or ("stored-policy" if self.azure_policy_id else "user-delegation")

    def stored(self) -> StoredFields:
        endpoint = self.endpoint.rstrip("/") if self.endpoint else None
        options = {"account": self.azure_account, "auth": self.auth, "policy_id": self.azure_policy_id}
        return StoredFields(endpoint=endpoint, options=options)


def unavailable(platform: PlatformCredentials, spec: GrantSpecBase) -> str | None:
    assert isinstance(spec, AzureGrantSpec)
    if spec.auth == "user-delegation" and platform.azure_token_credential is None:
        return "this gateway has no Azure AD credential for user-delegation SAS"
    if spec.auth == "stored-policy" and platform.azure_account_key is None:
        return "this gateway has no Azure account key for stored-policy SAS (ENCLAVE_STORAGE_AZURE_ACCOUNT_KEY)"
    return None


def open_signer(grant: Grant, platform: PlatformCredentials, clock: Callable[[], datetime]) -> AzureSigner:
    try:
        return AzureSigner(
            grant, account_key=platform.azure_account_key, token_credential=platform.azure_token_credential, clock=clock
        )
    except ValueError as exc:
        raise SignerUnavailableError(str(exc)) from None


@functools.cache
def _service_version() -> str:
    from azure.storage.blob._shared.constants import X_MS_VERSION

    return str(X_MS_VERSION)


def policy_name(policy_id: str, operation: Operation) -> str:
    return f"{policy_id}-{'r' if operation is Operation.GET else 'w'}"


def block_id(part_number: int) -> str:
    """Azure needs block ids of equal length within a blob: the part number, zero-padded, base64."""
    return base64.b64encode(f"{part_number:05d}".encode()).decode()


def policy_sas(account: str, key: bytes, container: str, blob: str, policy_id: str, expiry: datetime) -> str:
    """A blob service SAS bound to a stored access policy: the same token generate_blob_sas writes for
    (account_key, policy_id, expiry) — proven byte-identical in tests/storage_connector/test_azure_sas.py —
    without the SDK's per-call set-up (object construction, key decoding), which costs more than the HMAC."""
    expires = expiry.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    version = _service_version()
    fields = ("", "", expires, f"/blob/{account}/{container}/{blob}", policy_id, "", "", version, "b")
    string_to_sign = "\n".join(fields) + "\n" * 7  # snapshot, encryption scope, five response overrides
    signature = base64.b64encode(hmac.digest(key, string_to_sign.encode(), "sha256")).decode()
    return f"se={quote(expires)}&sv={version}&si={quote(policy_id)}&sr=b&sig={quote(signature)}"


def account_url(grant: Grant) -> str:
    return (grant.endpoint or f"https://{grant.options['account']}.blob.core.windows.net").rstrip("/")


class AzureSigner:
    def __init__(
        self,
        grant: Grant,
        *,
        account_key: str | None = None,
        token_credential: Any | None = None,
        clock: Callable[[], datetime],
        carry_correlation_id: bool = True,
        connection_verify: bool | str = True,
    ) -> None:
        """`carry_correlation_id=False` only for Azurite 3.37, whose string to sign leaves `scid` out;
        `connection_verify` a CA bundle path for an emulator's self-signed certificate."""
        self._grant = grant
        self._account = str(grant.options["account"])
        self._policy_id: str | None = grant.options.get("policy_id")
        self._delegation = grant.options.get("auth") == "user-delegation"
        if self._delegation and token_credential is None:
            raise ValueError("user-delegation SAS needs the platform's Azure AD credential")
        if not self._delegation and not account_key:
            raise ValueError("stored-policy SAS needs the storage account key (ENCLAVE_STORAGE_AZURE_ACCOUNT_KEY)")
        self._account_key = account_key
        self._key = base64.b64decode(account_key) if account_key else b""
        from azure.storage.blob import BlobServiceClient

        self._service = BlobServiceClient(
            account_url(grant), credential=token_credential or account_key, connection_verify=connection_verify
        )
        self._clock = clock
        self._carry_correlation_id = carry_correlation_id
        self._lock = threading.Lock()
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_expiry: datetime | None = None

    def _user_delegation_key(self, needed: timedelta) -> tuple[UserDelegationKey, datetime]:
        with self._lock:
            key, expiry = self._delegation_key, self._delegation_expiry
        now = self._clock()
        if key is not None and expiry is not None and expiry - now >= needed:
            return key, expiry
        expiry = now + DELEGATION_KEY_LIFETIME
        key = self._service.get_user_delegation_key(now - timedelta(minutes=5), expiry)
        with self._lock:
            self._delegation_key, self._delegation_expiry = key, expiry
        return key, expiry

    def credentials_expire_at(self, now: datetime, lifetime: timedelta) -> datetime | None:
        if not self._delegation:
            return None
        return self._user_delegation_key(lifetime + DELEGATION_KEY_MARGIN)[1]

    def sign(self, requests: Sequence[UrlRequest], context: SigningContext) -> list[SignedUrl]:
        base = f"{account_url(self._grant)}/{self._grant.bucket}"
        delegation_key = self._user_delegation_key(context.expires_at - context.now)[0] if self._delegation else None
        urls: list[SignedUrl] = []
        for request in requests:
            entry = PERMISSIONS.get(request.operation)
            if entry is None:
                raise UnsupportedOperationError(UNSUPPORTED[request.operation])
            method, permission = entry
            sas = self._sas(request, permission, context, delegation_key)
            extra = ""
            headers: dict[str, str] = {}
            if request.operation is Operation.MULTIPART_PART:
                if request.part_number is None:
                    raise UnsupportedOperationError("multipart-part needs part_number")
                extra = f"comp=block&blockid={quote(block_id(request.part_number), safe='')}&"
            elif request.operation is Operation.MULTIPART_COMPLETE:
                extra = "comp=blocklist&"
            elif request.operation is Operation.PUT:
                headers["x-ms-blob-type"] = "BlockBlob"
                if request.content_type:
                    headers["x-ms-blob-content-type"] = request.content_type
                if request.content_md5:
                    headers["content-md5"] = request.content_md5
            url = f"{base}/{quote(request.object_name, safe='/~')}?{extra}{sas}"
            urls.append(SignedUrl(request.operation, request.object_name, method, url, context.expires_at, headers))
        return urls

    def sign_list(self, prefix: str, marker: str | None, context: SigningContext) -> SignedUrl:
        """List Blobs under `prefix` from `marker` (the previous page's NextMarker) with a container SAS: bound to
        the read policy "<policy id>-r" (which must grant list, `rl`, for the audit sync), or a user-delegation
        SAS with list permission. https://learn.microsoft.com/rest/api/storageservices/list-blobs"""
        from azure.storage.blob import generate_container_sas

        if self._delegation:
            sas = generate_container_sas(
                self._account,
                self._grant.bucket,
                user_delegation_key=self._user_delegation_key(context.expires_at - context.now)[0],
                permission="l",
                expiry=context.expires_at,
            )
        else:
            sas = generate_container_sas(
                self._account,
                self._grant.bucket,
                account_key=self._account_key,
                policy_id=policy_name(str(self._policy_id), Operation.GET),
                expiry=context.expires_at,
            )
        query = f"restype=container&comp=list&prefix={quote(prefix, safe='')}"
        if marker is not None:
            query += f"&marker={quote(marker, safe='')}"
        url = f"{account_url(self._grant)}/{self._grant.bucket}?{query}&{sas}"
        return SignedUrl(Operation.GET, prefix, "GET", url, context.expires_at)

    def _sas(
        self, request: UrlRequest, permission: str, context: SigningContext, delegation_key: UserDelegationKey | None
    ) -> str:
        if delegation_key is None:
            policy = policy_name(str(self._policy_id), request.operation)
            return policy_sas(
                self._account, self._key, self._grant.bucket, request.object_name, policy, context.expires_at
            )
        from azure.storage.blob import generate_blob_sas

        correlation = str(uuid.UUID(hex=context.batch_id)) if self._carry_correlation_id else None
        return generate_blob_sas(
            self._account,
            self._grant.bucket,
            request.object_name,
            user_delegation_key=delegation_key,
            permission=permission,
            expiry=context.expires_at,
            correlation_id=correlation,
        )

    def probe(self) -> ProbeResult:
        """With the platform's own credential: the stored access policy still exists (stored-policy), or a
        user delegation key is still issued (user-delegation); and listing the prefix is allowed."""
        from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

        container = self._service.get_container_client(self._grant.bucket)
        try:
            if self._delegation:
                self._service.get_user_delegation_key(self._clock(), self._clock() + timedelta(minutes=5))
            else:
                identifiers = {
                    item.id for item in container.get_container_access_policy().get("signed_identifiers", [])
                }
                for operation in (Operation.GET, Operation.PUT):
                    name = policy_name(str(self._policy_id), operation)
                    if name not in identifiers:
                        return ProbeResult(ProbeStatus.DENIED, f"stored access policy {name!r} was deleted")
            next(iter(container.list_blobs(name_starts_with=self._grant.prefix, results_per_page=1, timeout=5)), None)
        except ClientAuthenticationError as exc:
            return ProbeResult(ProbeStatus.DENIED, f"authentication refused: {type(exc).__name__}")
        except HttpResponseError as exc:
            if exc.status_code in (401, 403, 404):
                return ProbeResult(ProbeStatus.DENIED, f"HTTP {exc.status_code} {exc.reason or ''}".strip())
            return ProbeResult(ProbeStatus.ERROR, f"HTTP {exc.status_code}")
        except AzureError as exc:
            return ProbeResult(ProbeStatus.ERROR, type(exc).__name__)
        return ProbeResult(ProbeStatus.OK, "access policy present and listing the prefix succeeded")
