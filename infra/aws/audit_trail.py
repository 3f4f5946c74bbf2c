"""CloudTrail with log file validation into a tenant-owned bucket: encrypted with the tenant key,
versioned, Object Lock retention (COMPLIANCE while deletion protection is on, GOVERNANCE otherwise so a
test tenant can be torn down), writable by this trail only. S3 data events of the managed bucket too."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.buckets import attach_policy, private_bucket
from infra.aws.context import AwsContext
from infra.aws.iam import Statement
from infra.aws.names import trail_arn
from infra.cloud import Part, PartComponent

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


@dataclass(frozen=True)
class AuditTrailArgs:
    trail_name: str
    region: str
    deletion_protection: bool  # COMPLIANCE-mode retention while on, GOVERNANCE otherwise
    key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    data_bucket_arn: pulumi.Output[str] | None  # the managed bucket whose object events the trail records


class AuditTrail(PartComponent):
    part = Part.AUDIT_TRAIL
    trail_arn: pulumi.Output[str]

    def __init__(self, scope: AwsContext, args: AuditTrailArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        logs = private_bucket(actx, "audit", args.key_arn, object_lock=True)
        lock = aws.s3.BucketObjectLockConfiguration(
            actx.name("audit-lock"),
            bucket=logs.bucket.id,
            rule={
                "default_retention": {
                    "mode": "COMPLIANCE" if args.deletion_protection else "GOVERNANCE",
                    "days": RETENTION_DAYS,
                }
            },
            opts=actx.opts(),
        )
        statements = pulumi.Output.all(logs.bucket.arn, args.account_id).apply(
            lambda v: trail_write_statements(v[0], v[1], trail_arn(args.region, v[1], args.trail_name))
        )
        policy = attach_policy(actx, "audit", logs, statements)
        trail = aws.cloudtrail.Trail(
            args.trail_name,
            name=args.trail_name,
            s3_bucket_name=logs.bucket.id,
            s3_key_prefix=LOG_PREFIX,
            kms_key_id=args.key_arn,
            enable_log_file_validation=True,
            enable_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            advanced_event_selectors=_event_selectors(args.data_bucket_arn),
            tags=actx.tags(),
            # The trail starts delivering as soon as it exists: its first log files must already fall under the
            # bucket's default retention. Object Lock's default retention applies to objects written after it is
            # set ("Configuring S3 Object Lock", default retention settings,
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html), so a trail created
            # before the configuration would leave its first files unprotected.
            opts=actx.opts(depends_on=[policy, lock]),
        )
        self.trail_arn = trail.arn
        self.publish(trailArn=self.trail_arn, bucket=logs.bucket.bucket)


def _event_selectors(
    data_bucket_arn: pulumi.Output[str] | None,
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict]:
    selectors: list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict] = [
        {"name": "Management events", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]}
    ]
    if data_bucket_arn is not None:
        selectors.append(
            {
                "name": "Tenant bucket object events",
                "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "starts_withs": [data_bucket_arn.apply(lambda a: f"{a}/")]},
                ],
            }
        )
    return selectors
