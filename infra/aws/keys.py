"""The tenant's KMS key (rotation on, 30-day deletion window, protected), or the customer's key instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.context import AwsContext
from infra.aws.iam import Statement, account_id_output, account_root, policy_document

KEY_DELETION_WINDOW_DAYS = 30  # the longest KMS allows: time to notice and cancel a scheduled deletion
KEY_ROTATION_DAYS = 365
_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


@dataclass(frozen=True)
class Keys:
    key_arn: pulumi.Output[str]
    customer_managed: bool


def key_policy(account_id: str, region: str) -> str:
    """Key policy: the account administers the key through IAM; CloudTrail, CloudWatch Logs and the
    Auto Scaling service role (encrypted node volumes) may use it, each only for this account's resources."""
    root = account_root(account_id)
    autoscaling = (
        f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    statements: list[Statement] = [
        {
            "Sid": "AccountAdministersViaIam",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudTrailEncryptsThisAccountsTrails",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"
                },
            },
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": use,
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}
            },
        },
        {
            "Sid": "AutoScalingUsesKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": use,
            "Resource": "*",
        },
        {
            "Sid": "AutoScalingGrantsForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]
    return policy_document(statements)


def customer_key_arn(arn: str, region: str) -> str:
    """Validate spec.customer_managed_key: a full KMS key ARN in the tenant's region (keys are regional)."""
    match = _KEY_ARN.match(arn)
    if not match:
        raise ValueError(
            f"customer_managed_key must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got {arn!r}"
        )
    if match.group("region") != region:
        raise ValueError(
            f"customer_managed_key is in {match.group('region')} but the tenant runs in {region}; "
            "KMS keys are regional, use a key (or multi-Region replica) in the tenant's region"
        )
    return arn


def build_keys(actx: AwsContext) -> Keys:
    spec = actx.spec
    if spec.customer_managed_key:
        arn = customer_key_arn(spec.customer_managed_key, spec.region)
        return Keys(key_arn=pulumi.Output.from_input(arn), customer_managed=True)
    key = aws.kms.Key(
        actx.name("key"),
        description=f"Enclave tenant {spec.name}: data at rest, secrets, logs",
        enable_key_rotation=True,
        rotation_period_in_days=KEY_ROTATION_DAYS,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    aws.kms.Alias(
        actx.name("key-alias"),
        name=f"alias/{actx.name('key')}",
        target_key_id=key.key_id,
        opts=actx.opts(),
    )
    aws.kms.KeyPolicy(
        actx.name("key-policy"),
        key_id=key.key_id,
        policy=account_id_output(key.arn).apply(lambda account: key_policy(account, spec.region)),
        opts=actx.opts(),
    )
    return Keys(key_arn=key.arn, customer_managed=False)
