"""Object storage: the tenant's managed bucket (uniform access, public access prevention enforced,
versioning, tenant key, CORS for the gateway origin only), or BYOB wiring, where the customer's kit grants
its own bucket to the gateway's platform service account."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from infra.cloud import StorageWiring
from infra.gcp.identity import GatewayIdentity
from infra.gcp.keys import TenantKey
from infra.gcp.project import GcpContext
from infra.spec import StorageMode

OBJECT_USER = "roles/storage.objectUser"  # read, write, list, delete objects; no bucket administration
CORS_METHODS = ("GET", "HEAD", "PUT", "POST")
CORS_HEADERS = ("Content-Type", "Content-MD5", "ETag", "x-goog-resumable")
CORS_MAX_AGE_SECONDS = 3600


def bucket_name(project: GcpContext, part: str) -> str:
    """Bucket names are global across GCP: the tenant prefix plus the project keeps them unique."""
    name = project.ctx.name(f"{part}-{project.project}")
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} is longer than 63 characters; use a shorter project id")
    return name


def private_bucket(
    project: GcpContext,
    part: str,
    key: TenantKey,
    key_grants: Sequence[pulumi.Resource],
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
        location=project.region.upper(),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.key_id),
        versioning=gcp.storage.BucketVersioningArgs(enabled=versioning),
        cors=list(cors),
        retention_policy=retention_policy,
        force_destroy=False,
        labels=project.labels,
        opts=project.opts(stateful=True, depends_on=list(key_grants)),
    )


def build_storage(
    project: GcpContext, key: TenantKey, identity: GatewayIdentity, key_grants: Sequence[pulumi.Resource]
) -> StorageWiring:
    spec = project.ctx.spec
    if spec.storage.mode is StorageMode.BYOB:
        if not spec.storage.bucket:
            raise ValueError("storage mode byob needs the customer's bucket name")
        # The customer's kit grants its bucket (and key) to identity.email; nothing to create here.
        return StorageWiring(bucket=pulumi.Output.from_input(spec.storage.bucket), platform_identity=identity.email)
    bucket = private_bucket(
        project,
        "data",
        key,
        key_grants,
        versioning=True,
        cors=[
            gcp.storage.BucketCorArgs(
                origins=[f"https://{spec.hostname}"],
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
        member=identity.member,
        opts=project.opts(),
    )
    return StorageWiring(bucket=bucket.name, platform_identity=identity.email)
