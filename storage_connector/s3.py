"""The S3 backend: AssumeRole into the customer's role (ExternalId, a session name naming the tenant, a
session policy narrowed to the tenant's prefix), credentials cached and refreshed before they expire, URLs
signed by the fast SigV4 presigner, and a probe that uses the platform's own access."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage_connector.grants import Grant
from storage_connector.s3_urls import S3Location, presign
from storage_connector.signer import Operation, ProbeResult, ProbeStatus, SignedUrl, SigningContext, UrlRequest
from storage_connector.sigv4 import AwsCredentials, SigV4Presigner

SESSION_SECONDS = 3600
REFRESH_MARGIN = timedelta(minutes=5)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "AllAccessDisabled",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "403",
    }
)
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})


def session_name(tenant: str) -> str:
    """Shows in the customer's CloudTrail as the assumed-role session: which tenant's gateway acted."""
    return f"enclave-{tenant}"[:64]


def session_policy(bucket: str, prefix: str) -> str:
    """The intersection with the role's own policy: objects under the prefix, listing only the prefix."""
    objects = f"arn:aws:s3:::{bucket}/{prefix}*"
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": objects,
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


class AssumedRole:
    """Cached AssumeRole credentials for one grant; refreshed when fewer than `needed` remain."""

    def __init__(self, grant: Grant, sts_client: Any, clock: Callable[[], datetime]) -> None:
        self._grant = grant
        self._sts = sts_client
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: AwsCredentials | None = None

    def assume(self) -> AwsCredentials:
        response = self._sts.assume_role(
            RoleArn=self._grant.role_arn,
            RoleSessionName=session_name(self._grant.tenant),
            ExternalId=self._grant.external_id,
            Policy=session_policy(self._grant.bucket, self._grant.prefix),
            DurationSeconds=SESSION_SECONDS,
        )
        raw = response["Credentials"]
        expiration = raw["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        credentials = AwsCredentials(raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"], expiration)
        with self._lock:
            self._credentials = credentials
        return credentials

    def current(self, needed: timedelta) -> AwsCredentials:
        """Cached credentials with at least `needed` left (capped a little below a fresh session's length,
        so that an hour-long URL does not cost an AssumeRole each time); else a new session."""
        needed = min(needed, timedelta(seconds=SESSION_SECONDS) - REFRESH_MARGIN)
        with self._lock:
            cached = self._credentials
        if cached is not None and cached.expires_at is not None and cached.expires_at - self._clock() >= needed:
            return cached
        return self.assume()


class S3Signer:
    def __init__(self, grant: Grant, *, sts_client: Any | None = None, clock: Callable[[], datetime]) -> None:
        if grant.region is None or grant.role_arn is None:
            raise ValueError("an S3 grant needs region and role_arn")
        self._grant = grant
        self._location = S3Location(grant.bucket, grant.region, grant.endpoint)
        self._presigner = SigV4Presigner(grant.region, "s3")
        sts = sts_client or boto3.client(
            "sts", region_name=grant.region, endpoint_url=grant.endpoint, config=CLIENT_CONFIG
        )
        self._role = AssumedRole(grant, sts, clock)

    def credentials_expire_at(self, now: datetime, lifetime: timedelta) -> datetime | None:
        return self._role.current(needed=lifetime + REFRESH_MARGIN).expires_at

    def sign(self, requests: Sequence[UrlRequest], context: SigningContext) -> list[SignedUrl]:
        credentials = self._role.current(needed=context.expires_at - context.now)
        return presign(
            self._presigner,
            self._location,
            credentials,
            requests,
            now=context.now,
            expires_at=context.expires_at,
            principal=context.principal,
        )

    def sign_list(self, prefix: str, marker: str | None, context: SigningContext) -> SignedUrl:
        """A presigned ListObjectsV2 of the keys under `prefix` (which must be under the grant's prefix), from
        `marker` (the previous page's NextContinuationToken). The assumed role's session policy allows
        s3:ListBucket for the grant's prefix only.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html"""
        credentials = self._role.current(needed=context.expires_at - context.now)
        base, host, path = self._location.target("")
        params = [("list-type", "2"), ("prefix", prefix)]
        if marker is not None:
            params.append(("continuation-token", marker))
        parts = self._presigner.presign(
            credentials=credentials,
            method="GET",
            host=host,
            encoded_path=path,
            params=params,
            headers={},
            now=context.now,
            expires_seconds=int((context.expires_at - context.now).total_seconds()),
        )
        return SignedUrl(Operation.GET, prefix, "GET", f"{base}{path}?{parts.query}", context.expires_at)

    def probe(self) -> ProbeResult:
        """A fresh AssumeRole (the trust and ExternalId still hold) and a header-signed LIST on the prefix
        (the role's permissions and the bucket policy still allow it)."""
        try:
            credentials = self._role.assume()
        except ClientError as exc:
            return _classify("AssumeRole", exc)
        except BotoCoreError as exc:
            return ProbeResult(ProbeStatus.ERROR, f"AssumeRole: {type(exc).__name__}")
        client = boto3.client(
            "s3",
            region_name=self._grant.region,
            endpoint_url=self._grant.endpoint,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=CLIENT_CONFIG,
        )
        try:
            client.list_objects_v2(Bucket=self._grant.bucket, Prefix=self._grant.prefix, MaxKeys=1)
        except ClientError as exc:
            return _classify("ListObjectsV2", exc)
        except BotoCoreError as exc:
            return ProbeResult(ProbeStatus.ERROR, f"ListObjectsV2: {type(exc).__name__}")
        return ProbeResult(ProbeStatus.OK, "AssumeRole and ListObjectsV2 on the prefix succeeded")


def _classify(call: str, exc: ClientError) -> ProbeResult:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in DENIED_CODES or status == 403:
        return ProbeResult(ProbeStatus.DENIED, f"{call}: {code or status}")
    return ProbeResult(ProbeStatus.ERROR, f"{call}: {code or status}")
