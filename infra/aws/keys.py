"""The tenant's KMS key (rotation on, 30-day deletion window, protected), or the customer's key instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.context import AwsContext
from infra.aws.iam import Statement, account_id_output, account_root, policy_document
from infra.aws.names import log_group_arn, trail_arn
from infra.cloud import Part, PartComponent

KEY_DELETION_WINDOW_DAYS = 30  # the longest KMS allows: time to notice and cancel a scheduled deletion
KEY_ROTATION_DAYS = 365
CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


@dataclass(frozen=True)
class KeyUsers:
    """Who besides the account uses the tenant key, by exact identity: the trail and the log groups are
    known by name before they exist (their ARNs go into the key policy's conditions)."""

    trail_arn: str
    log_group_arns: tuple[str, ...]
    autoscaling_role_arn: str


@dataclass(frozen=True)
class KeysArgs:
    region: str
    customer_managed_key: str | None  # the customer's key ARN, used instead of a key of the stack's own
    trail_name: str  # the trail and the log groups the key policy admits, named before they exist
    log_group_names: tuple[str, ...]


def autoscaling_role_arn(account_id: str) -> str:
    """The default EC2 Auto Scaling service-linked role; EKS managed node groups launch through it."""
    return f"arn:aws:iam::{account_id}:role/aws-service-role/{AUTOSCALING_SERVICE}/AWSServiceRoleForAutoScaling"


def key_users(args: KeysArgs, account_id: str, autoscaling_role: str) -> KeyUsers:
    return KeyUsers(
        trail_arn=trail_arn(args.region, account_id, args.trail_name),
        log_group_arns=tuple(log_group_arn(args.region, account_id, name) for name in args.log_group_names),
        autoscaling_role_arn=autoscaling_role,
    )


def key_policy(account_id: str, region: str, users: KeyUsers) -> str:
    """Key policy: the account administers the key through IAM; CloudTrail (this trail only), CloudWatch Logs
    (this stack's log groups only) and the Auto Scaling service-linked role (encrypted node volumes) use it.

    - CloudTrail, per "Configure AWS KMS key policies for CloudTrail"
      (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html):
      `GenerateDataKey*` under the trail's encryption context; `DescribeKey` without it (CloudTrail calls it
      with no encryption context, so a context condition never matches); `Decrypt`, which CloudTrail needs
      to create or update a trail writing to a bucket with an S3 Bucket Key (as the audit bucket has); each
      scoped with `aws:SourceArn` to this trail, the condition that page recommends.
    - CloudWatch Logs, per "Encrypt log data in CloudWatch Logs using AWS KMS"
      (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html): the regional
      logs principal, with `kms:EncryptionContext:aws:logs:arn` equal to the log group's ARN.
    - Auto Scaling, per "Required AWS KMS key policy for use with encrypted volumes"
      (https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html):
      the service-linked role may use the key and create grants for AWS resources. A key policy may only
      name principals that exist (PutKeyPolicy rejects others), and in a fresh account the role does not
      exist until the first Auto Scaling group: the Keys part creates it first.
    """
    root = account_root(account_id)
    use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    trail = {"aws:SourceArn": users.trail_arn}
    statements: list[Statement] = [
        {
            "Sid": "AccountAdministersViaIam",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudTrailEncryptsThisTrail",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": trail,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"
                },
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": trail},
        },
        {
            "Sid": "CloudTrailDecryptsForBucketKey",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": trail},
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": use,
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": list(users.log_group_arns)}},
        },
        {
            "Sid": "AutoScalingUsesKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": users.autoscaling_role_arn},
            "Action": use,
            "Resource": "*",
        },
        {
            "Sid": "AutoScalingGrantsForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": users.autoscaling_role_arn},
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


class Keys(PartComponent):
    """`key_arn` resolves only once the key policy is in place: every consumer that takes it (log groups,
    buckets, the cluster, RDS, ElastiCache, node volumes, the trail) waits for the policy that admits it."""

    part = Part.KEYS
    key_arn: pulumi.Output[str]
    customer_managed: bool

    def __init__(self, scope: AwsContext, args: KeysArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        self.customer_managed = args.customer_managed_key is not None
        if args.customer_managed_key is not None:
            self.key_arn = pulumi.Output.from_input(customer_key_arn(args.customer_managed_key, args.region))
        else:
            self.key_arn = self._tenant_key(actx, args)
        self.publish(keyArn=self.key_arn)

    @staticmethod
    def _tenant_key(actx: AwsContext, args: KeysArgs) -> pulumi.Output[str]:
        key = aws.kms.Key(
            actx.name("key"),
            description=f"Enclave tenant {actx.tenant}: data at rest, secrets, logs",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            tags=actx.tags(),
            opts=actx.opts(stateful=True),
        )
        # The key policy names this role, and PutKeyPolicy refuses a principal that does not exist: a fresh
        # account (one per tenant, docs/tenant-stack.md) has none until its first Auto Scaling group
        # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html).
        autoscaling_role = aws.iam.ServiceLinkedRole(
            actx.name("autoscaling-role"),
            aws_service_name=AUTOSCALING_SERVICE,
            tags=actx.tags(),
            opts=actx.opts(),
        )
        account = account_id_output(key.arn)
        policy = aws.kms.KeyPolicy(
            actx.name("key-policy"),
            key_id=key.key_id,
            policy=pulumi.Output.all(account, autoscaling_role.arn).apply(
                lambda v: key_policy(v[0], args.region, key_users(args, v[0], v[1]))
            ),
            opts=actx.opts(),
        )
        aws.kms.Alias(
            actx.name("key-alias"),
            name=f"alias/{actx.name('key')}",
            target_key_id=key.key_id,
            opts=actx.opts(depends_on=[policy]),
        )
        return pulumi.Output.all(key.arn, policy.id).apply(lambda v: str(v[0]))
