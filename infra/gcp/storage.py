"""Object storage: the tenant's managed bucket (uniform access, public access prevention enforced,
versioning, tenant key, CORS for the gateway origin only), or BYOB wiring, where the customer's kit grants
its own bucket to the gateway's platform service account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent, StorageWiring
from infra.gcp.project import GcpContext

OBJECT_USER = "roles/storage.objectUser"  # read, write, list, delete objects; no bucket administration
CORS_METHODS = ("GET", "HEAD", "PUT", "POST")
CORS_HEADERS = ("Content-Type", "Content-MD5", "ETag", "x-goog-resumable")
CORS_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class BucketEncryption:
    """The key a bucket is encrypted with, the region it lives in, and the Cloud Storage agent's grant on it."""

    region: str
    key_id: pulumi.Input[str]
    key_grants: Sequence[pulumi.Resource]


def bucket_name(project: GcpContext, part: str) -> str:
    """Bucket names are global across GCP: the tenant prefix plus the project keeps them unique."""
    name = project.ctx.name(f"{part}-{project.project}")
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} is longer than 63 characters; use a shorter project id")
    return name


def private_bucket(
    project: GcpContext,
    part: str,
    encryption: BucketEncryption,
    *,
    versioning: bool,
    cors: Sequence[gcp.storage.BucketCorArgs] = (),
    retention_policy: gcp.storage.BucketRetentionPolicyArgs | None = None,
) -> gcp.storage.Bucket:
    """A bucket no one outside IAM can reach: uniform access, public access prevention enforced, tenant key."""
    name = bucket_name(project, part)
    return gcp.storage.Bucket(
        project.ctx.name(part),
        name=name,
        project=project.project,
        location=encryption.region.upper(),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=encryption.key_id),
        versioning=gcp.storage.BucketVersioningArgs(enabled=versioning),
        cors=list(cors),
        retention_policy=retention_policy,
        force_destroy=False,
        labels=project.labels,
        opts=project.opts(stateful=True, depends_on=list(encryption.key_grants)),
    )


@dataclass(frozen=True)
class StorageArgs:
    cors_origin: str  # the gateway's origin (https://<hostname>)
    encryption: BucketEncryption
    gateway_member: pulumi.Input[str]  # `serviceAccount:<gateway>`: may read and write objects, sign URLs
    gateway_email: pulumi.Input[str]  # the platform identity a BYOB customer grants its bucket to
    byob_bucket: str | None = None  # the customer's bucket; None: the stack's own


class Storage(PartComponent):
    part = Part.STORAGE
    wiring: StorageWiring

    def __init__(self, scope: GcpContext, args: StorageArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        identity = pulumi.Output.from_input(args.gateway_email)
        if args.byob_bucket is not None:
            # The customer's kit grants its bucket (and key) to the gateway's account; nothing to create here.
            self.wiring = StorageWiring(bucket=pulumi.Output.from_input(args.byob_bucket), platform_identity=identity)
        else:
            bucket = private_bucket(
                project,
                "data",
                args.encryption,
                versioning=True,
                cors=[
                    gcp.storage.BucketCorArgs(
                        origins=[args.cors_origin],
                        methods=list(CORS_METHODS),
                        response_headers=list(CORS_HEADERS),
                        max_age_seconds=CORS_MAX_AGE_SECONDS,
                    )
                ],
            )
            gcp.storage.BucketIAMMember(
                project.ctx.name("data-gateway"),
                bucket=bucket.name,
                role=OBJECT_USER,
                member=args.gateway_member,
                opts=project.opts(),
            )
            self.wiring = StorageWiring(bucket=bucket.name, platform_identity=identity)
        self.publish(bucket=self.wiring.bucket, platformIdentity=self.wiring.platform_identity)
