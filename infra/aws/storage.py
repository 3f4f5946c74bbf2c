"""Object storage for the gateway. Managed: the tenant's bucket (see buckets.py) with CORS for the
gateway's origin only, and the gateway's role allowed to sign for it. BYOB: the customer's bucket in the
customer's account; the gateway's IRSA role is the platform identity whose ARN, with the spec's ExternalId,
the customer's kit trusts. Using that one role (rather than chaining through a second) keeps signed URLs
valid for the full session and leaves a single identity for the customer to trust or revoke."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.buckets import attach_policy, private_bucket
from infra.aws.context import AwsContext
from infra.aws.iam import Statement, policy_document, require_account_id
from infra.aws.identity import GatewayIdentity
from infra.aws.keys import Keys
from infra.cloud import StorageWiring
from infra.spec import StorageMode

CORS_MAX_AGE_SECONDS = 3600
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]


@dataclass(frozen=True)
class Storage:
    wiring: StorageWiring
    managed_bucket_arn: pulumi.Output[str] | None  # for CloudTrail data events; None for BYOB


def managed_grant(bucket_arn: str, key_arn: str) -> str:
    statements: list[Statement] = [
        {"Sid": "SignObjectUrls", "Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {"Sid": "ListTenantBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
        {
            "Sid": "UseTenantKeyForObjects",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
            "Resource": key_arn,
        },
    ]
    return policy_document(statements)


def byob_grant(customer_account: str) -> str:
    """The gateway may assume roles in the customer's account only; the customer's trust (with the
    ExternalId) decides which, and deleting it revokes access."""
    account = require_account_id(customer_account, "storage.customer_account")
    return policy_document(
        [
            {
                "Sid": "AssumeCustomerBucketRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{account}:role/*",
            }
        ]
    )


def build_storage(actx: AwsContext, identity: GatewayIdentity, keys: Keys) -> Storage:
    spec = actx.spec
    if spec.storage.mode is StorageMode.BYOB:
        bucket, account = spec.storage.bucket or "", spec.storage.customer_account or ""  # TenantSpec requires both
        _grant(actx, identity, byob_grant(account))
        wiring = StorageWiring(
            bucket=pulumi.Output.from_input(bucket),
            platform_identity=identity.role_arn,
            external_id=spec.storage.external_id,
        )
        return Storage(wiring=wiring, managed_bucket_arn=None)
    data = private_bucket(actx, "data", keys)
    attach_policy(actx, "data", data)
    aws.s3.BucketCorsConfiguration(
        actx.name("data-cors"),
        bucket=data.bucket.id,
        cors_rules=[
            {
                "allowed_origins": [f"https://{spec.hostname}"],
                "allowed_methods": ["GET", "PUT", "POST", "HEAD"],
                "allowed_headers": ["content-type", "content-md5", "x-amz-*"],
                "expose_headers": ["ETag"],
                "max_age_seconds": CORS_MAX_AGE_SECONDS,
            }
        ],
        opts=actx.opts(),
    )
    _grant(actx, identity, pulumi.Output.all(data.bucket.arn, keys.key_arn).apply(lambda v: managed_grant(v[0], v[1])))
    wiring = StorageWiring(bucket=data.bucket.bucket, platform_identity=identity.role_arn)
    return Storage(wiring=wiring, managed_bucket_arn=data.bucket.arn)


def _grant(actx: AwsContext, identity: GatewayIdentity, policy: pulumi.Input[str]) -> None:
    aws.iam.RolePolicy(
        actx.name("gateway-storage"),
        name=actx.name("gateway-storage"),
        role=identity.role_name,
        policy=policy,
        opts=actx.opts(),
    )
