"""Cloud Audit Logs: admin and data-access logs for every service of the tenant's project, routed by a
project sink into a tenant-owned bucket encrypted with the tenant key whose retention policy is locked
(objects cannot be deleted or overwritten before they age out; a locked policy cannot be shortened)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
from infra.gcp.project import GcpContext
from infra.gcp.storage import BucketEncryption, private_bucket

AUDIT_LOG_TYPES = ("ADMIN_READ", "DATA_READ", "DATA_WRITE")
AUDIT_LOG_FILTER = 'logName:"cloudaudit.googleapis.com"'
RETENTION_SECONDS = 365 * 24 * 3600
OBJECT_CREATOR = "roles/storage.objectCreator"


@dataclass(frozen=True)
class AuditTrailArgs:
    encryption: BucketEncryption
    lock_retention: bool  # lock the archive's retention policy (irreversible): only while deletion protection is on


class AuditTrail(PartComponent):
    part = Part.AUDIT_TRAIL
    sink: gcp.logging.ProjectSink
    bucket: gcp.storage.Bucket

    def __init__(self, scope: GcpContext, args: AuditTrailArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        gcp.projects.IAMAuditConfig(
            ctx.name("data-access-logs"),
            project=project.project,
            service="allServices",
            audit_log_configs=[gcp.projects.IAMAuditConfigAuditLogConfigArgs(log_type=t) for t in AUDIT_LOG_TYPES],
            opts=project.opts(),
        )
        # Locking is irreversible, so a stack without deletion protection (a trial) keeps the policy unlocked.
        self.bucket = private_bucket(
            project,
            "audit",
            args.encryption,
            versioning=False,  # GCS refuses versioning together with a retention policy
            retention_policy=gcp.storage.BucketRetentionPolicyArgs(
                retention_period=str(RETENTION_SECONDS), is_locked=args.lock_retention
            ),
        )
        self.sink = gcp.logging.ProjectSink(
            ctx.name("audit"),
            name=ctx.name("audit"),
            project=project.project,
            destination=pulumi.Output.concat("storage.googleapis.com/", self.bucket.name),
            filter=AUDIT_LOG_FILTER,
            unique_writer_identity=True,
            opts=project.opts(),
        )
        gcp.storage.BucketIAMMember(
            ctx.name("audit-writer"),
            bucket=self.bucket.name,
            role=OBJECT_CREATOR,
            member=self.sink.writer_identity,
            opts=project.opts(),
        )
        self.publish(sink=self.sink.name, bucket=self.bucket.name)
