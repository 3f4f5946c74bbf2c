"""The S3 backend: its grant fields, AssumeRole into the customer's role (the ExternalId Enclave generated for
the tenant, a session name naming the tenant, a session policy narrowed to the tenant's prefix), credentials
cached and refreshed before they expire, URLs signed by the fast SigV4 presigner, and a probe that uses the
platform's own access. Every AWS partition botocore knows (aws, aws-cn, aws-us-gov, ...) is reached at its own
hosts and ARNs (storage_connector/aws_partitions.py); an S3-compatible store at its endpoint, path included."""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from storage_connector.aws_partitions import partition_ids, partition_of_arn, partition_of_region
from storage_connector.grants import Backend, Grant
from storage_connector.platform import PlatformCredentials
from storage_connector.s3_urls import S3Location, presign
from storage_connector.signer import Operation, ProbeResult, ProbeStatus, SignedUrl, SigningContext, UrlRequest
from storage_connector.sigv4 import AwsCredentials, SigV4Presigner
from storage_connector.spec import Endpoint, GrantSpecBase, Matches, StoredFields

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.exceptions import ClientError

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
UNSUPPORTED: dict[Operation, str] = {}  # every operation has a presigned S3 request

# -- grant fields -----------------------------------------------------------------------------------------
# Bucket naming rules, https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63
# lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, no two adjacent
# dots, not an IP address, none of the reserved prefixes and suffixes.
S3_BUCKET_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
REGION_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"
# arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME — a role name is at most 64 of [A-Za-z0-9+=,.@_-]; a path's
# characters are ASCII '!' to '~' (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html,
# "IAM identifiers", and the IAM API's CreateRole RoleName / Path constraints).
ROLE_ARN_PATTERN = (
    rf"^arn:({'|'.join(re.escape(p) for p in partition_ids())}):iam::[0-9]{{12}}:role/"
    r"([\x21-\x2e\x30-\x7e]+/)*[A-Za-z0-9+=,.@_-]{1,64}$"
)
# AssumeRole ExternalId: 2-1224 of [\w+=,.@:/-] (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_+=,.@:/-]{2,1224}$"
MAX_SESSION_POLICY = 2048  # AssumeRole: the plaintext of the session policies can't exceed 2,048 characters
S3Bucket = Annotated[
    str,
    Matches(
        S3_BUCKET_PATTERN,
        "an S3 bucket name is lower-case letters, digits, dots and hyphens, starting and ending with "
        "a letter or digit, without adjacent dots",
    ),
]
Region = Annotated[str, Matches(REGION_PATTERN, "lower-case letters, digits and inner hyphens (eu-west-1)")]
RoleArn = Annotated[
    str,
    Matches(
        ROLE_ARN_PATTERN,
        "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME: a 12-digit account and a role name of at most 64 of "
        "[A-Za-z0-9+=,.@_-]",
    ),
]
ExternalIdValue = Annotated[str, Matches(EXTERNAL_ID_PATTERN, "2-1224 of [A-Za-z0-9+=,.@:/_-]")]


def session_name(tenant: str) -> str:
    """Shows in the customer's CloudTrail as the assumed-role session: which tenant's gateway acted."""
    return f"enclave-{tenant}"[:64]


def iam_literal(text: str) -> str:
    """`text` as IAM matches it literally in a Resource or a StringLike value. '*' and '?' are wildcards there
    and '${...}' a policy variable, so they are written as the fixed-value variables ${*}, ${?} and ${$}
    (IAM User Guide, "IAM policy elements: Variables and tags", special characters,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-specialchars;
    variables need policy version 2012-10-17, which the session policy declares). '$' first, or the escapes
    themselves would be escaped."""
    return text.replace("$", "${$}").replace("*", "${*}").replace("?", "${?}")


def session_policy(bucket: str, prefix: str, partition: str = "aws") -> str:
    """The intersection with the role's own policy: objects under the prefix, listing only the prefix. The
    prefix is matched literally; only the trailing '*' is a wildcard."""
    literal = iam_literal(prefix)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": f"arn:{partition}:s3:::{bucket}/{literal}*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:{partition}:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": [f"{literal}*"]}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


class S3GrantSpec(GrantSpecBase):
    backend: Literal[Backend.S3]
    bucket: S3Bucket = Field(min_length=3, max_length=63, description="the S3 bucket")
    region: Region = Field(
        description="the bucket's AWS region, in any partition (eu-west-1, cn-north-1, us-gov-west-1, ...); "
        "with an endpoint, the region the S3-compatible store signs for",
    )
    endpoint: Endpoint | None = Field(
        None, max_length=500, description="an S3-compatible store, path style; its path is kept (https://host/s3api)"
    )
    role_arn: RoleArn = Field(
        max_length=2048, description="the customer's role the platform assumes, in the region's partition"
    )
    external_id: ExternalIdValue | None = Field(
        None,
        description="the ExternalId Enclave generated for this tenant and grant name; default: that one",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if value.startswith(RESERVED_BUCKET_PREFIXES) or value.endswith(RESERVED_BUCKET_SUFFIXES):
            raise ValueError("bucket uses a prefix or suffix S3 reserves")
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return value
        raise ValueError("an S3 bucket name is never an IP address")

    @property
    def partition_id(self) -> str:
        """The partition of the role (and, without an endpoint, of the region)."""
        return partition_of_arn(self.role_arn) or "aws"

    @model_validator(mode="after")
    def _partition(self) -> Self:
        if self.endpoint is None:
            region = partition_of_region(self.region)
            if region is None:
                raise ValueError(
                    f"region {self.region!r} is not an AWS region (the installed botocore's partition data lists "
                    "none of that name); give an endpoint for an S3-compatible store"
                )
            if region.id != self.partition_id:
                raise ValueError(
                    f"role_arn is in partition {self.partition_id} but region {self.region} is in {region.id}: "
                    "a role is assumed in its own partition"
                )
        if len(session_policy(self.bucket, self.prefix, self.partition_id)) > MAX_SESSION_POLICY:
            raise ValueError(f"prefix is too long for an AssumeRole session policy ({MAX_SESSION_POLICY} characters)")
        return self

    def stored(self) -> StoredFields:
        endpoint = self.endpoint.rstrip("/") if self.endpoint else None
        return StoredFields(region=self.region, endpoint=endpoint, role_arn=self.role_arn, external_id=self.external_id)


def unavailable(platform: PlatformCredentials, spec: GrantSpecBase) -> str | None:
    """Why this gateway could never sign for `spec` (None: it could)."""
    assert isinstance(spec, S3GrantSpec)
    if not platform.aws_credentials_available:
        return "this gateway has no AWS credentials to assume the customer's role"
    own = partition_of_arn(platform.aws_identity) if platform.aws_identity else None
    if own is not None and spec.endpoint is None and own != spec.partition_id:
        return (
            f"this gateway's AWS identity is in partition {own}; a role in {spec.partition_id} can only be assumed "
            f"from {spec.partition_id} (partitions do not share IAM)"
        )
    return None


def open_signer(grant: Grant, platform: PlatformCredentials, clock: Callable[[], datetime]) -> S3Signer:
    sts = platform.sts_client(grant) if platform.sts_client is not None else None
    return S3Signer(grant, sts_client=sts, clock=clock)


def client_config() -> Config:
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})


class AssumedRole:
    """Cached AssumeRole credentials for one grant; refreshed when fewer than `needed` remain."""

    def __init__(self, grant: Grant, sts_client: Any, clock: Callable[[], datetime]) -> None:
        self._grant = grant
        self._partition = partition_of_arn(grant.role_arn or "") or "aws"
        self._sts = sts_client
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: AwsCredentials | None = None

    def assume(self) -> AwsCredentials:
        response = self._sts.assume_role(
            RoleArn=self._grant.role_arn,
            RoleSessionName=session_name(self._grant.tenant),
            ExternalId=self._grant.external_id,
            Policy=session_policy(self._grant.bucket, self._grant.prefix, self._partition),
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
        if sts_client is None:
            import boto3

            # STS in the grant's own region: its partition's endpoint (sts.cn-north-1.amazonaws.com.cn, ...).
            sts_client = boto3.client(
                "sts", region_name=grant.region, endpoint_url=grant.endpoint, config=client_config()
            )
        self._role = AssumedRole(grant, sts_client, clock)

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
        location = self._location
        path = location.root or "/"  # the bucket: path style "/bucket", virtual-hosted "/"
        params = [("list-type", "2"), ("prefix", prefix)]
        if marker is not None:
            params.append(("continuation-token", marker))
        parts = self._presigner.presign(
            credentials=credentials,
            method="GET",
            host=location.host,
            encoded_path=path,
            params=params,
            headers={},
            now=context.now,
            expires_seconds=int((context.expires_at - context.now).total_seconds()),
        )
        return SignedUrl(Operation.GET, prefix, "GET", f"{location.base}{path}?{parts.query}", context.expires_at)

    def probe(self) -> ProbeResult:
        """A fresh AssumeRole (the trust and ExternalId still hold) and a header-signed LIST on the prefix
        (the role's permissions and the bucket policy still allow it)."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

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
            config=client_config(),
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
