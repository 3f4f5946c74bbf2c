"""CloudTrail with log file validation into a tenant-owned bucket: encrypted with the tenant key,
versioned, Object Lock retention (COMPLIANCE while deletion protection is on, GOVERNANCE otherwise so a
test tenant can be torn down), writable by this trail only. S3 data events of the managed bucket too."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.buckets import attach_policy, private_bucket
from infra.aws.context import AwsContext
from infra.aws.iam import Statement
from infra.aws.keys import Keys
from infra.aws.names import trail_arn, trail_name
from infra.aws.network import Network
from infra.aws.storage import Storage

RETENTION_DAYS = 365
LOG_PREFIX = "cloudtrail"


def trail_write_statements(bucket_arn: str, account_id: str, source_arn: str) -> list[Statement]:
    """CloudTrail may read the bucket ACL and write under its prefix, only on behalf of this trail."""
    source = {"aws:SourceArn": source_arn}
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return [
        {
            "Sid": "TrailAclCheck",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": source},
        },
        {
            "Sid": "TrailWrite",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{LOG_PREFIX}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
    ]


def build_audit_trail(actx: AwsContext, network: Network, storage: Storage, keys: Keys) -> pulumi.Output[str]:
    spec = actx.spec
    name = trail_name(actx)
    logs = private_bucket(actx, "audit", keys, object_lock=True)
    aws.s3.BucketObjectLockConfiguration(
        actx.name("audit-lock"),
        bucket=logs.bucket.id,
        rule={
            "default_retention": {
                "mode": "COMPLIANCE" if spec.deletion_protection else "GOVERNANCE",
                "days": RETENTION_DAYS,
            }
        },
        opts=actx.opts(),
    )
    statements = pulumi.Output.all(logs.bucket.arn, network.account_id).apply(
        lambda v: trail_write_statements(v[0], v[1], trail_arn(spec.region, v[1], name))
    )
    policy = attach_policy(actx, "audit", logs, statements)
    trail = aws.cloudtrail.Trail(
        name,
        name=name,
        s3_bucket_name=logs.bucket.id,
        s3_key_prefix=LOG_PREFIX,
        kms_key_id=keys.key_arn,
        enable_log_file_validation=True,
        enable_logging=True,
        is_multi_region_trail=True,
        include_global_service_events=True,
        advanced_event_selectors=_event_selectors(storage),
        tags=actx.tags(),
        opts=actx.opts(depends_on=[policy]),
    )
    return trail.arn


def _event_selectors(storage: Storage) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict]:
    selectors: list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict] = [
        {"name": "Management events", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]}
    ]
    if storage.managed_bucket_arn is not None:
        selectors.append(
            {
                "name": "Tenant bucket object events",
                "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "starts_withs": [storage.managed_bucket_arn.apply(lambda a: f"{a}/")]},
                ],
            }
        )
    return selectors
