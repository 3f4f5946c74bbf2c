"""Picks the signer for a grant's backend (as enclave.cache picks memory or Redis), and keeps one per grant
so that credential caches (AssumeRole sessions, user delegation keys) live across requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.events import utc_now
from storage_connector.grants import Backend, Grant
from storage_connector.signer import Signer
from tenancy.errors import ConflictError

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class SignerUnavailableError(ConflictError):
    """The platform lacks what this grant's backend needs to sign (its AWS credentials, a GCS key file, an
    Azure key or credential): a grant for that backend cannot be used on this gateway."""


@dataclass(frozen=True, repr=False)
class PlatformCredentials:
    """The platform's own means of reaching customer stores (from the gateway's settings; never in a grant)."""

    local_key: bytes | None = None
    local_base_url: str = "http://127.0.0.1:8000"
    local_max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    gcs_key_file: Path | None = None
    azure_account_key: str | None = None
    azure_token_credential: Any | None = None
    sts_client: Callable[[Grant], Any] | None = None  # default: boto3's credential chain

    def __repr__(self) -> str:
        return "PlatformCredentials(<redacted>)"


def open_signer(grant: Grant, platform: PlatformCredentials, clock: Callable[[], datetime] = utc_now) -> Signer:
    if grant.backend is Backend.LOCAL:
        from storage_connector.local import LocalSigner

        if platform.local_key is None:
            raise SignerUnavailableError("the local store's signing key is not loaded")
        return LocalSigner(
            grant_id=grant.id,
            key=platform.local_key,
            base_url=platform.local_base_url,
            max_upload_bytes=platform.local_max_upload_bytes,
        )
    if grant.backend is Backend.S3:
        from storage_connector.s3 import S3Signer

        sts = platform.sts_client(grant) if platform.sts_client is not None else None
        return S3Signer(grant, sts_client=sts, clock=clock)
    if grant.backend is Backend.GCS:
        from storage_connector.gcs import GcsServiceAccount, GcsSigner

        if platform.gcs_key_file is None:
            raise SignerUnavailableError("no GCS service-account key (ENCLAVE_STORAGE_GCS_KEY_FILE)")
        try:
            account = GcsServiceAccount.from_file(platform.gcs_key_file)
        except (OSError, ValueError) as exc:
            raise SignerUnavailableError(f"GCS key file unusable: {type(exc).__name__}") from None
        return GcsSigner(grant, account)
    from storage_connector.azure import AzureSigner

    try:
        return AzureSigner(
            grant, account_key=platform.azure_account_key, token_credential=platform.azure_token_credential, clock=clock
        )
    except ValueError as exc:
        raise SignerUnavailableError(str(exc)) from None


def _has_aws_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


class Signers:
    """One signer per grant, created on first use."""

    def __init__(self, platform: PlatformCredentials, clock: Callable[[], datetime] = utc_now) -> None:
        self.platform = platform
        self._clock = clock
        self._lock = threading.Lock()
        self._signers: dict[str, Signer] = {}
        self._aws_credentials: bool | None = None

    def check_backend(self, backend: Backend) -> None:
        """SignerUnavailableError when this gateway could not sign for `backend` at all (checked when a grant
        is connected, so that a grant that can never work is refused up front)."""
        platform = self.platform
        if backend is Backend.LOCAL and platform.local_key is None:
            raise SignerUnavailableError("the local store's signing key is not loaded")
        if backend is Backend.S3 and platform.sts_client is None:
            if self._aws_credentials is None:  # boto3's chain may probe instance metadata: ask once
                self._aws_credentials = _has_aws_credentials()
            if not self._aws_credentials:
                raise SignerUnavailableError("this gateway has no AWS credentials to assume the customer's role")
        if backend is Backend.GCS and platform.gcs_key_file is None:
            raise SignerUnavailableError("this gateway has no GCS service-account key (ENCLAVE_STORAGE_GCS_KEY_FILE)")
        if backend is Backend.AZURE and platform.azure_account_key is None and platform.azure_token_credential is None:
            raise SignerUnavailableError("this gateway has no Azure account key or Azure AD credential")

    def for_grant(self, grant: Grant) -> Signer:
        with self._lock:
            signer = self._signers.get(grant.id)
            if signer is None:
                signer = self._signers[grant.id] = open_signer(grant, self.platform, self._clock)
            return signer
