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
from infra.cloud import Part, PartComponent, StorageWiring

CORS_MAX_AGE_SECONDS = 3600
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]


@dataclass(frozen=True)
class ByobBucket:
    """The customer's bucket in the customer's account, and the ExternalId its trust policy requires."""

    bucket: str
    customer_account: str
    external_id: str | None


@dataclass(frozen=True)
class StorageArgs:
    cors_origin: str  # the gateway's origin (https://<hostname>), the only one browsers may upload from
    key_arn: pulumi.Input[str]
    gateway_role_name: pulumi.Input[str]
    gateway_role_arn: pulumi.Input[str]
    byob: ByobBucket | None = None  # None: the stack's own (managed) bucket


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


class Storage(PartComponent):
    part = Part.STORAGE
    wiring: StorageWiring
    managed_bucket_arn: pulumi.Output[str] | None  # for CloudTrail data events; None for BYOB

    def __init__(self, scope: AwsContext, args: StorageArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        if args.byob is not None:
            _grant(actx, args.gateway_role_name, byob_grant(args.byob.customer_account))
            self.wiring = StorageWiring(
                bucket=pulumi.Output.from_input(args.byob.bucket),
                platform_identity=pulumi.Output.from_input(args.gateway_role_arn),
                external_id=args.byob.external_id,
            )
            self.managed_bucket_arn = None
        else:
            data = private_bucket(actx, "data", args.key_arn)
            attach_policy(actx, "data", data)
            aws.s3.BucketCorsConfiguration(
                actx.name("data-cors"),
                bucket=data.bucket.id,
                cors_rules=[
                    {
                        "allowed_origins": [args.cors_origin],
                        "allowed_methods": ["GET", "PUT", "POST", "HEAD"],
                        "allowed_headers": ["content-type", "content-md5", "x-amz-*"],
                        "expose_headers": ["ETag"],
                        "max_age_seconds": CORS_MAX_AGE_SECONDS,
                    }
                ],
                opts=actx.opts(),
            )
            grant = pulumi.Output.all(data.bucket.arn, args.key_arn).apply(lambda v: managed_grant(v[0], v[1]))
            _grant(actx, args.gateway_role_name, grant)
            self.wiring = StorageWiring(
                bucket=data.bucket.bucket, platform_identity=pulumi.Output.from_input(args.gateway_role_arn)
            )
            self.managed_bucket_arn = data.bucket.arn
        self.publish(bucket=self.wiring.bucket, platformIdentity=self.wiring.platform_identity)


def _grant(actx: AwsContext, role_name: pulumi.Input[str], policy: pulumi.Input[str]) -> None:
    aws.iam.RolePolicy(
        actx.name("gateway-storage"),
        name=actx.name("gateway-storage"),
        role=role_name,
        policy=policy,
        opts=actx.opts(),
    )
