"""A private S3 bucket as pulumi-aws 7 builds it (split resources): public access blocked, ACLs disabled,
versioning, SSE-KMS with the tenant key, and a bucket policy that refuses anything but TLS 1.2+."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.context import AwsContext
from infra.aws.iam import Statement, policy_document

MIN_TLS_VERSION = "1.2"


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock


def tls_only_statements(bucket_arn: str) -> list[Statement]:
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyTlsOlderThan12",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": MIN_TLS_VERSION}},
        },
    ]


def private_bucket(
    actx: AwsContext, part: str, key_arn: pulumi.Input[str], *, object_lock: bool = False
) -> PrivateBucket:
    """The bucket gets a generated suffix after `<tenant>-<part>-`: S3 names are global across accounts."""
    bucket = aws.s3.Bucket(
        actx.name(part),
        bucket_prefix=f"{actx.name(part)}-",
        object_lock_enabled=object_lock or None,
        force_destroy=False,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    block = aws.s3.BucketPublicAccessBlock(
        actx.name(f"{part}-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=actx.opts(),
    )
    aws.s3.BucketOwnershipControls(
        actx.name(f"{part}-ownership"),
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},  # ACLs off: access only through policies
        opts=actx.opts(),
    )
    aws.s3.BucketVersioning(
        actx.name(f"{part}-versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=actx.opts(),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        actx.name(f"{part}-encryption"),
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=actx.opts(),
    )
    return PrivateBucket(bucket=bucket, public_access_block=block)


def attach_policy(
    actx: AwsContext,
    part: str,
    target: PrivateBucket,
    extra_statements: pulumi.Input[Sequence[Statement]] | None = None,
) -> aws.s3.BucketPolicy:
    """TLS-only denials plus the caller's grants, in one policy (a bucket has exactly one)."""
    extra = pulumi.Output.from_input(extra_statements or [])
    document = pulumi.Output.all(target.bucket.arn, extra).apply(
        lambda v: policy_document([*tls_only_statements(v[0]), *v[1]])
    )
    return aws.s3.BucketPolicy(
        actx.name(f"{part}-policy"),
        bucket=target.bucket.id,
        policy=document,
        opts=actx.opts(depends_on=[target.public_access_block]),
    )
