"""The Google Cloud kit: the customer's bucket (or an existing one) with uniform access, public access prevention
enforced, versioning and a Cloud KMS key; the platform's service account bound on this bucket only to a custom
role with object get, create and list (not `roles/storage.admin`), under an IAM condition that confines the
objects to the tenant's prefix; data-access audit logs for Cloud Storage.

The storage connector signs V4 URLs with that service account's key (storage_connector/gcs.py), and a signed
URL acts with its signer's current permissions: `access_enabled = false` deletes the binding, and URLs already
issued stop once IAM has propagated the change. Objects cannot be deleted or overwritten by the platform
(overwriting needs storage.objects.delete), so an upload to an existing key is refused.
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_google.data_google_storage_bucket import DataGoogleStorageBucket
from cdktf_cdktf_provider_google.data_google_storage_project_service_account import (
    DataGoogleStorageProjectServiceAccount,
)
from cdktf_cdktf_provider_google.kms_crypto_key import KmsCryptoKey
from cdktf_cdktf_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
from cdktf_cdktf_provider_google.kms_key_ring import KmsKeyRing
from cdktf_cdktf_provider_google.project_iam_audit_config import (
    ProjectIamAuditConfig,
    ProjectIamAuditConfigAuditLogConfig,
)
from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.provider import GoogleProvider
from cdktf_cdktf_provider_google.storage_bucket import (
    StorageBucket,
    StorageBucketCors,
    StorageBucketEncryption,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketSoftDeletePolicy,
    StorageBucketVersioning,
)
from cdktf_cdktf_provider_google.storage_bucket_iam_member import (
    StorageBucketIamMember,
    StorageBucketIamMemberCondition,
)

from infra.byob import rules
from infra.byob.terraform import KitStack, Skip, count_if, ref

# Object read and write, and listing; no delete (so no overwrite), no bucket or IAM administration.
# https://cloud.google.com/storage/docs/access-control/iam-permissions
OBJECT_PERMISSIONS = ["storage.objects.create", "storage.objects.get", "storage.objects.list"]
KEY_ROTATION = "7776000s"  # 90 days
SOFT_DELETE_SECONDS = 7 * 24 * 3600
MULTIPART_ABORT_DAYS = 7
CORS_MAX_AGE_SECONDS = 3600
CREATE_BUCKET = "var.create_bucket"
CREATE_KEY = 'var.kms_key_name == ""'
# Listing is checked on the bucket, reads and writes on the object: the condition lets the bucket through (only
# storage.objects.list applies to it) and objects only under the prefix. Resource names and types of Cloud
# Storage in IAM Conditions: https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name
PREFIX_CONDITION = (
    'resource.type == "storage.googleapis.com/Bucket" || '
    'resource.name.startsWith("projects/_/buckets/${var.bucket_name}/objects/${var.prefix}")'
)


def build(stack: KitStack) -> None:
    _variables(stack)
    GoogleProvider(
        stack,
        "google",
        project=ref("var.project"),
        default_labels={"enclave-tenant": ref("var.tenant"), "managed-by": "enclave-byob-kit"},
    )
    stack.local("key_name", ref("coalesce(var.kms_key_name, one(google_kms_crypto_key.bucket_key[*].id))"))
    _key(stack)
    _bucket(stack)
    _grant(stack)
    audit = ProjectIamAuditConfig(
        stack,
        "storage_data_access_logs",
        project=ref("var.project"),
        service="storage.googleapis.com",
        audit_log_config=[
            ProjectIamAuditConfigAuditLogConfig(log_type=kind) for kind in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")
        ],
        count=count_if("var.data_access_logs"),
    )
    stack.annotate(
        audit,
        "Data-access audit logs for Cloud Storage in the project (reads and writes, with the signed "
        "x-goog-custom-audit-enclave-user); authoritative for this service's audit settings in the project.",
    )
    stack.output("platform_service_account", ref("var.platform_service_account"), "The platform's service account.")
    stack.output("kms_key_name", ref("local.key_name"), "The bucket's Cloud KMS key.")
    stack.tenant_outputs("--backend gcs")


def _variables(stack: KitStack) -> None:
    stack.tenant_variables(
        bucket=rules.GCS_BUCKET,
        bucket_description="The bucket: created by this kit, or an existing one (create_bucket = false).",
        create="create_bucket",
        switch="The switch: false removes the platform service account's binding on the bucket; URLs already "
        "issued stop working once IAM has propagated the change.",
    )
    stack.variable(
        "project",
        type="string",
        required=True,
        rule=rules.GCP_PROJECT,
        description="Your project that holds the bucket.",
    )
    stack.variable(
        "location",
        type="string",
        required=True,
        rule=rules.GCP_LOCATION,
        description="The bucket's region (also the key ring's), e.g. europe-west1.",
    )
    stack.variable(
        "platform_service_account",
        type="string",
        required=True,
        rule=rules.GCP_SERVICE_ACCOUNT,
        description="The platform's service account for this tenant (the tenant stack's platformIdentity output).",
    )
    stack.variable(
        "kms_key_name",
        type="string",
        default="",
        rule=rules.GCP_KMS_KEY,
        description="An existing Cloud KMS key in the bucket's location; empty: the kit creates one. "
        "Either way Cloud Storage's service agent is allowed to use it.",
    )
    stack.variable(
        "data_access_logs",
        type="bool",
        default=True,
        description="Turn on data-access audit logs for Cloud Storage in the project.",
    )


def _key(stack: KitStack) -> None:
    ring = KmsKeyRing(
        stack,
        "key_ring",
        name="enclave-${var.tenant}",
        location=ref("var.location"),
        count=count_if(CREATE_KEY),
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(
        ring, "A key ring for the bucket's key (only when kms_key_name is empty); key rings cannot be deleted."
    )
    key = KmsCryptoKey(
        stack,
        "bucket_key",
        name="bucket",
        key_ring=ref("google_kms_key_ring.key_ring[0].id"),
        purpose="ENCRYPT_DECRYPT",
        rotation_period=KEY_ROTATION,
        count=count_if(CREATE_KEY),
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(key, "The bucket's customer-managed key (CMEK), rotated every 90 days; Terraform cannot destroy it.")
    agent = DataGoogleStorageProjectServiceAccount(stack, "storage_agent", project=ref("var.project"))
    stack.annotate(agent, "Cloud Storage's service agent in your project: it encrypts and decrypts with the key.")
    use = KmsCryptoKeyIamMember(
        stack,
        "storage_agent_uses_key",
        crypto_key_id=ref("local.key_name"),
        role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member="serviceAccount:${data.google_storage_project_service_account.storage_agent.email_address}",
    )
    stack.annotate(
        use,
        "Lets Cloud Storage use the key for this project's buckets (the platform itself gets no key "
        "permission: Cloud Storage decrypts for whoever may read the object).",
    )


def _bucket(stack: KitStack) -> None:
    existing = DataGoogleStorageBucket(
        stack, "existing_bucket", name=ref("var.bucket_name"), count=count_if(f"!{CREATE_BUCKET}")
    )
    stack.annotate(
        existing, "Checks that the existing bucket is there (create_bucket = false); the kit changes nothing on it."
    )
    bucket = StorageBucket(
        stack,
        "bucket",
        name=ref("var.bucket_name"),
        location=ref("var.location"),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=StorageBucketVersioning(enabled=True),
        encryption=StorageBucketEncryption(default_kms_key_name=ref("local.key_name")),
        soft_delete_policy=StorageBucketSoftDeletePolicy(retention_duration_seconds=SOFT_DELETE_SECONDS),
        cors=[
            StorageBucketCors(
                origin=[ref("var.gateway_url")],
                method=["GET", "HEAD", "POST", "PUT"],
                response_header=["Content-MD5", "Content-Type", "ETag", "x-goog-resumable"],
                max_age_seconds=CORS_MAX_AGE_SECONDS,
            )
        ],
        lifecycle_rule=[
            StorageBucketLifecycleRule(
                action=StorageBucketLifecycleRuleAction(type="AbortIncompleteMultipartUpload"),
                condition=StorageBucketLifecycleRuleCondition(age=MULTIPART_ABORT_DAYS),
            )
        ],
        force_destroy=False,
        count=count_if(CREATE_BUCKET),
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    bucket.add_override("depends_on", ["google_kms_crypto_key_iam_member.storage_agent_uses_key"])
    stack.annotate(
        bucket,
        "The bucket (only when create_bucket is true): uniform access, public access prevention enforced, "
        "versioning, 7-day soft delete, the KMS key, CORS for the gateway origin only; Terraform cannot destroy it.",
        Skip(
            "CKV_GCP_62",
            "usage logs are superseded by the data-access audit logs this kit turns on "
            "(storage_data_access_logs), which also carry the requesting Enclave user",
        ),
    )


def _grant(stack: KitStack) -> None:
    role = ProjectIamCustomRole(
        stack,
        "objects_role",
        project=ref("var.project"),
        role_id='enclave_${replace(var.tenant, "-", "_")}_objects',
        title="Enclave ${var.tenant}: objects under the tenant prefix",
        description="Get, create and list objects; no delete, no bucket or IAM administration (BYOB kit)",
        permissions=OBJECT_PERMISSIONS,
    )
    stack.annotate(role, "A custom role with object get, create and list only (not storage.admin, no delete).")
    binding = StorageBucketIamMember(
        stack,
        "platform_objects",
        bucket=ref("var.bucket_name"),
        role=ref("google_project_iam_custom_role.objects_role.name"),
        member="serviceAccount:${var.platform_service_account}",
        condition=StorageBucketIamMemberCondition(
            title="enclave-${var.tenant}-prefix",
            description="Objects under the tenant's prefix; listing the bucket",
            expression=PREFIX_CONDITION,
        ),
        count=count_if("var.access_enabled"),
    )
    binding.add_override("depends_on", ["google_storage_bucket.bucket", "data.google_storage_bucket.existing_bucket"])
    stack.annotate(
        binding,
        "The platform's access: the custom role on this bucket, objects only under the prefix; "
        "access_enabled = false deletes it (the revoke switch).",
    )
