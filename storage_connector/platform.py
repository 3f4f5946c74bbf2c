"""The platform's own means of reaching customer stores (from the gateway's settings; never part of a grant),
and the error for a grant this gateway cannot sign for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenancy.errors import ConflictError

if TYPE_CHECKING:
    from storage_connector.grants import Grant

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class SignerUnavailableError(ConflictError):
    """The platform lacks what this grant's backend needs to sign (its AWS credentials, a GCS key file, an
    Azure key or credential), or cannot reach the grant at all (another AWS partition): a grant that can never
    work on this gateway is refused when it is connected."""


@dataclass(frozen=True, repr=False)
class PlatformCredentials:
    local_key: bytes | None = None
    local_base_url: str = "http://127.0.0.1:8000"
    local_max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    gcs_key_file: Path | None = None
    azure_account_key: str | None = None
    azure_token_credential: Any | None = None
    sts_client: Callable[[Grant], Any] | None = None  # default: boto3's credential chain
    aws_identity: str | None = None  # the gateway's own IAM role ARN (ENCLAVE_STORAGE_PLATFORM_IDENTITY), if known

    @functools.cached_property
    def aws_credentials_available(self) -> bool:
        """Whether the gateway has AWS credentials to assume customers' roles with (asked once: boto3's chain
        may probe instance metadata)."""
        if self.sts_client is not None:
            return True
        import boto3

        return boto3.Session().get_credentials() is not None

    def __repr__(self) -> str:
        return "PlatformCredentials(<redacted>)"
