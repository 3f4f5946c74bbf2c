"""The AWS kit: the customer's bucket (or an existing one), its KMS key, and one IAM role that only the
platform's principal may assume, only with the tenant's ExternalId, and only under the session name the
storage connector uses (`enclave-<tenant>`, storage_connector/s3.py). The role may get, put and list objects
under the tenant's prefix and use the bucket's key through S3; nothing else.

`access_enabled = false` deletes the role's permission policy and the key policy's statement for the role.
The trust stays, so the operator's probe sees AssumeRole succeed and ListObjectsV2 refused: S3 evaluates the
session's permissions on every request, so URLs already signed with the role stop at once
(docs/storage-revocation.md). An edit to the trust alone would let existing sessions run to their end.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.cloudtrail import (
    Cloudtrail,
    CloudtrailAdvancedEventSelector,
    CloudtrailAdvancedEventSelectorFieldSelector,
)
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_s3_bucket import DataAwsS3Bucket
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_cors_configuration import (
    S3BucketCorsConfiguration,
    S3BucketCorsConfigurationCorsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
)
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)

from infra.byob import rules
from infra.byob.terraform import KitStack, Skip, count_if, ref

SESSION_SECONDS = 3600  # the connector's AssumeRole DurationSeconds (storage_connector/s3.py)
CORS_MAX_AGE_SECONDS = 3600
MULTIPART_ABORT_DAYS = 7
OBJECT_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"]
# Through S3 only: GenerateDataKey for puts, Decrypt for gets and for multipart uploads' parts.
KEY_USE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
# Key administration without use: the account (through its IAM) manages the key, only granted roles use it.
KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]
ACCESS_ENABLED = "var.access_enabled"
CREATE_BUCKET = "var.create_bucket"
CREATE_KEY = 'var.kms_key_arn == ""'
DATA_EVENTS = 'var.cloudtrail_bucket_name != ""'

# Key policies name "*" as their resource: it means "this key" (AWS KMS Developer Guide, "Key policies in AWS
# KMS", https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html#key-policy-elements).
KEY_POLICY_RESOURCE = Skip(
    "CKV_AWS_356", 'a key policy\'s Resource "*" means this key only; a key policy cannot name anything else'
)
KEY_POLICY_WRITE = Skip(
    "CKV_AWS_111", 'a key policy\'s Resource "*" means this key only; the statement is bounded by its principal'
)
KEY_POLICY_PERMISSIONS = Skip(
    "CKV_AWS_109", "key administration (kms:Put*, kms:Create*) for the customer's own account, on this key only"
)


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | None,
    *,
    effect: str = "Allow",
    principals: tuple[str, Sequence[str]] | None = None,
    conditions: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> DataAwsIamPolicyDocumentStatement:
    """One statement; actions sorted so that the committed JSON diffs small."""
    return DataAwsIamPolicyDocumentStatement(
        sid=sid,
        effect=effect,
        actions=sorted(actions),
        resources=resources,
        principals=[DataAwsIamPolicyDocumentStatementPrincipals(type=principals[0], identifiers=principals[1])]
        if principals
        else None,
        condition=[
            DataAwsIamPolicyDocumentStatementCondition(test=test, variable=variable, values=values)
            for test, variable, values in conditions
        ]
        or None,
    )


def build(stack: KitStack) -> None:
    _variables(stack)
    AwsProvider(
        stack,
        "aws",
        region=ref("var.region"),
        default_tags=[
            AwsProviderDefaultTags(tags={"enclave-tenant": ref("var.tenant"), "managed-by": "enclave-byob-kit"})
        ],
    )
    stack.annotate(DataAwsPartition(stack, "partition"), "The AWS partition (aws, aws-cn, aws-us-gov), for ARNs.")
    stack.annotate(DataAwsCallerIdentity(stack, "caller"), "Your account id, for the key policy's administrator.")
    stack.local("bucket_arn", "arn:${data.aws_partition.partition.partition}:s3:::${var.bucket_name}")
    stack.local("key_arn", ref("coalesce(var.kms_key_arn, one(aws_kms_key.bucket_key[*].arn))"))
    stack.local("role_name", "enclave-${var.tenant}-bucket-access")
    _role(stack)
    _key(stack)
    _bucket(stack)
    _data_events(stack)
    _outputs(stack)


def _variables(stack: KitStack) -> None:
    stack.tenant_variables(
        bucket=rules.S3_BUCKET,
        bucket_description="The bucket: created by this kit, or an existing one (create_bucket = false).",
        create="create_bucket",
        switch="The switch: false removes the platform role's permissions (not only its trust); URLs already "
        "issued stop working at once.",
    )
    stack.variable(
        "region", type="string", required=True, rule=rules.AWS_REGION, description="The AWS region of the bucket."
    )
    stack.variable(
        "platform_principal_arn",
        type="string",
        required=True,
        rule=rules.AWS_PRINCIPAL,
        description="The platform's IAM role for this tenant (the tenant stack's platformIdentity output).",
    )
    stack.variable(
        "external_id",
        type="string",
        required=True,
        rule=rules.EXTERNAL_ID,
        description="The tenant's ExternalId: ask your Enclave operator "
        "(enclave storage external-id --tenant TENANT). Not a secret, but unguessable by design.",
    )
    stack.variable(
        "kms_key_arn",
        type="string",
        default="",
        rule=rules.KMS_KEY_ARN,
        description="An existing KMS key (its ARN) for the bucket; empty: the kit creates one. An existing "
        "key's policy must let IAM policies grant its use (the default key policy does).",
    )
    stack.variable(
        "kms_key_users",
        type="list(string)",
        default=[],
        list_rule=rules.IAM_PRINCIPAL,
        description="Your own IAM roles or users that read the bucket's objects (the kit's key lets only "
        "these and the platform role use it). Ignored with kms_key_arn.",
    )
    stack.variable(
        "access_log_bucket",
        type="string",
        default="",
        rule=rules.S3_BUCKET,
        description="A bucket that already accepts S3 server access log delivery (logging.s3.amazonaws.com); the "
        "logs show the requesting Enclave user (x-enclave-user). Empty: no access logs.",
    )
    stack.variable(
        "cloudtrail_bucket_name",
        type="string",
        default="",
        rule=rules.S3_BUCKET,
        description="A bucket that already accepts CloudTrail log delivery; set it to record object-level "
        "data events under the prefix in a trail of their own, encrypted with the bucket's key (an existing "
        "kms_key_arn must then let cloudtrail.amazonaws.com use it). Empty: no trail.",
    )


def _role(stack: KitStack) -> None:
    trust = DataAwsIamPolicyDocument(
        stack,
        "trust_policy",
        statement=[
            _statement(
                "PlatformWithTenantExternalId",
                ["sts:AssumeRole"],
                None,
                principals=("AWS", [ref("var.platform_principal_arn")]),
                # ExternalId first: moto (the tests' IAM) pairs condition keys with request values by position.
                conditions=[
                    ("StringEquals", "sts:ExternalId", [ref("var.external_id")]),
                    ("StringEquals", "sts:RoleSessionName", ["enclave-${var.tenant}"]),
                ],
            )
        ],
    )
    stack.annotate(
        trust,
        "Who may assume the role: the platform's principal, with the tenant's ExternalId, under the "
        "session name enclave-TENANT.",
    )
    role = IamRole(
        stack,
        "access_role",
        name=ref("local.role_name"),
        description="Enclave: signed-URL access to the tenant's prefix (BYOB kit)",
        assume_role_policy=trust.json,
        max_session_duration=SESSION_SECONDS,
    )
    stack.annotate(role, "The role the platform assumes to sign URLs for the tenant.")
    access = DataAwsIamPolicyDocument(
        stack,
        "access_policy",
        statement=[
            _statement("ObjectsUnderTenantPrefix", OBJECT_ACTIONS, ["${local.bucket_arn}/${var.prefix}*"]),
            _statement(
                "ListTenantPrefixOnly",
                ["s3:ListBucket"],
                [ref("local.bucket_arn")],
                conditions=[("StringLike", "s3:prefix", ["${var.prefix}*"])],
            ),
            _statement(
                "BucketKeyThroughS3",
                KEY_USE_ACTIONS,
                [ref("local.key_arn")],
                conditions=[("StringEquals", "kms:ViaService", ["s3.${var.region}.amazonaws.com"])],
            ),
        ],
    )
    stack.annotate(
        access,
        "What the role may do: get, put and multipart uploads under the prefix, list the prefix, use "
        "the bucket key through S3.",
    )
    permissions = IamRolePolicy(
        stack,
        "access_permissions",
        name="enclave-tenant-prefix",
        role=role.id,
        policy=access.json,
        count=count_if(ACCESS_ENABLED),
    )
    stack.annotate(permissions, "The role's permissions; access_enabled = false deletes them (the revoke switch).")


def _key(stack: KitStack) -> None:
    root = "arn:${data.aws_partition.partition.partition}:iam::${data.aws_caller_identity.caller.account_id}:root"
    via_s3 = ("StringEquals", "kms:ViaService", ["s3.${var.region}.amazonaws.com"])
    admin = DataAwsIamPolicyDocument(
        stack,
        "key_admin_policy",
        statement=[
            _statement("AccountAdministersKeyWithoutUsingIt", KEY_ADMIN_ACTIONS, ["*"], principals=("AWS", [root]))
        ],
    )
    stack.annotate(
        admin,
        "Key policy, part 1: your account administers the key (through IAM) but cannot use it.",
        KEY_POLICY_RESOURCE,
        KEY_POLICY_WRITE,
        KEY_POLICY_PERMISSIONS,
    )
    platform = DataAwsIamPolicyDocument(
        stack,
        "key_platform_policy",
        statement=[
            _statement(
                "PlatformRoleUsesKeyThroughS3",
                KEY_USE_ACTIONS,
                ["*"],
                principals=("AWS", ["${aws_iam_role.access_role.arn}"]),
                conditions=[via_s3],
            )
        ],
        count=count_if(ACCESS_ENABLED),
    )
    stack.annotate(
        platform, "Key policy, part 2: the platform role may use the key through S3; gone when access_enabled is false."
    )
    users = DataAwsIamPolicyDocument(
        stack,
        "key_users_policy",
        statement=[
            _statement(
                "CustomerPrincipalsUseKeyThroughS3",
                [*KEY_USE_ACTIONS, "kms:DescribeKey"],
                ["*"],
                principals=("AWS", Token.as_list(ref("var.kms_key_users"))),
                conditions=[via_s3],
            )
        ],
        count=count_if("length(var.kms_key_users) > 0"),
    )
    stack.annotate(users, "Key policy, part 3: your own principals (kms_key_users) that read the bucket's objects.")
    trail = DataAwsIamPolicyDocument(
        stack,
        "key_cloudtrail_policy",
        statement=[
            _statement(
                "CloudTrailEncryptsDataEventLogs",
                ["kms:GenerateDataKey*", "kms:DescribeKey"],
                ["*"],
                principals=("Service", ["cloudtrail.amazonaws.com"]),
                conditions=[
                    (
                        "StringLike",
                        "kms:EncryptionContext:aws:cloudtrail:arn",
                        [
                            "arn:${data.aws_partition.partition.partition}:cloudtrail:*:"
                            "${data.aws_caller_identity.caller.account_id}:trail/*"
                        ],
                    )
                ],
            )
        ],
        count=count_if(DATA_EVENTS),
    )
    stack.annotate(
        trail, "Key policy, part 4: CloudTrail may encrypt the data-event trail with the key (only with a trail)."
    )
    policy = DataAwsIamPolicyDocument(
        stack,
        "key_policy",
        source_policy_documents=Token.as_list(
            ref(
                "concat([data.aws_iam_policy_document.key_admin_policy.json], "
                "data.aws_iam_policy_document.key_platform_policy[*].json, "
                "data.aws_iam_policy_document.key_users_policy[*].json, "
                "data.aws_iam_policy_document.key_cloudtrail_policy[*].json)"
            )
        ),
    )
    stack.annotate(policy, "The key policy: parts 1-4 joined.")
    key = KmsKey(
        stack,
        "bucket_key",
        description="Enclave BYOB: the tenant bucket's key",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=policy.json,
        count=count_if(CREATE_KEY),
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(
        key,
        "The bucket's customer-managed key (only when kms_key_arn is empty); rotated yearly; cannot be "
        "destroyed by Terraform.",
    )
    alias = KmsAlias(
        stack,
        "bucket_key_alias",
        name="alias/enclave-${var.tenant}-bucket",
        target_key_id=ref("aws_kms_key.bucket_key[0].key_id"),
        count=count_if(CREATE_KEY),
    )
    stack.annotate(alias, "A readable name for the key.")


def _bucket(stack: KitStack) -> None:
    existing = DataAwsS3Bucket(
        stack, "existing_bucket", bucket=ref("var.bucket_name"), count=count_if(f"!{CREATE_BUCKET}")
    )
    stack.annotate(
        existing, "Checks that the existing bucket is there (create_bucket = false); the kit changes nothing on it."
    )
    bucket = S3Bucket(
        stack,
        "bucket",
        bucket=ref("var.bucket_name"),
        force_destroy=False,
        count=count_if(CREATE_BUCKET),
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(
        bucket,
        "The bucket (only when create_bucket is true); Terraform cannot destroy it.",
        Skip(
            "CKV_AWS_144",
            "cross-region replication would copy the tenant's data out of the region you chose; "
            "replicate deliberately if your policy asks for it",
        ),
        Skip("CKV2_AWS_62", "Enclave needs no event notifications; add them for your own consumers"),
    )
    name = ref("aws_s3_bucket.bucket[0].id")
    created = count_if(CREATE_BUCKET)
    stack.annotate(
        S3BucketOwnershipControls(
            stack,
            "bucket_ownership",
            bucket=name,
            count=created,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        ),
        "ACLs off: the bucket owner owns every object, whoever wrote it.",
    )
    public = S3BucketPublicAccessBlock(
        stack,
        "bucket_public_access_block",
        bucket=name,
        count=created,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    stack.annotate(public, "No public access, by ACL or by policy.")
    stack.annotate(
        S3BucketVersioningA(
            stack,
            "bucket_versioning",
            bucket=name,
            count=created,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        ),
        "Versioning: an overwrite keeps the previous version (the platform cannot delete versions).",
    )
    stack.annotate(
        S3BucketServerSideEncryptionConfigurationA(
            stack,
            "bucket_encryption",
            bucket=name,
            count=created,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    bucket_key_enabled=True,
                    apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms", kms_master_key_id=ref("local.key_arn")
                    ),
                )
            ],
        ),
        "Default encryption: SSE-KMS with the bucket's key (S3 Bucket Keys on, fewer KMS calls).",
    )
    tls = DataAwsIamPolicyDocument(
        stack,
        "tls_only_policy",
        statement=[
            _statement(
                "DenyInsecureTransport",
                ["s3:*"],
                [ref("local.bucket_arn"), "${local.bucket_arn}/*"],
                effect="Deny",
                principals=("*", ["*"]),
                conditions=[("Bool", "aws:SecureTransport", ["false"])],
            ),
            _statement(
                "DenyTlsBelow12",
                ["s3:*"],
                [ref("local.bucket_arn"), "${local.bucket_arn}/*"],
                effect="Deny",
                principals=("*", ["*"]),
                conditions=[("NumericLessThan", "s3:TlsVersion", ["1.2"])],
            ),
        ],
    )
    stack.annotate(tls, "Bucket policy: HTTPS with TLS 1.2 or later only.")
    stack.annotate(
        S3BucketPolicy(stack, "bucket_policy", bucket=name, policy=tls.json, count=created, depends_on=[public]),
        "Applies the TLS-only bucket policy.",
    )
    stack.annotate(
        S3BucketCorsConfiguration(
            stack,
            "bucket_cors",
            bucket=name,
            count=created,
            cors_rule=[
                S3BucketCorsConfigurationCorsRule(
                    allowed_origins=[ref("var.gateway_url")],
                    allowed_methods=["GET", "HEAD", "POST", "PUT"],
                    allowed_headers=["content-md5", "content-type", "x-amz-*"],
                    expose_headers=["ETag"],
                    max_age_seconds=CORS_MAX_AGE_SECONDS,
                )
            ],
        ),
        "CORS: browsers may call the bucket from the tenant's gateway origin only (uploads and downloads with "
        "signed URLs).",
    )
    stack.annotate(
        S3BucketLifecycleConfiguration(
            stack,
            "bucket_lifecycle",
            bucket=name,
            count=created,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="abort-incomplete-multipart-uploads",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                            days_after_initiation=MULTIPART_ABORT_DAYS
                        )
                    ],
                )
            ],
        ),
        "Lifecycle: parts of multipart uploads never completed are removed after 7 days.",
    )
    stack.annotate(
        S3BucketLoggingA(
            stack,
            "bucket_access_logging",
            bucket=name,
            target_bucket=ref("var.access_log_bucket"),
            target_prefix="s3-access/${var.bucket_name}/",
            count=count_if(f'{CREATE_BUCKET} && var.access_log_bucket != ""'),
        ),
        "Server access logs to access_log_bucket (only when set): every request, with the signed x-enclave-user.",
    )


def _data_events(stack: KitStack) -> None:
    trail = Cloudtrail(
        stack,
        "data_events_trail",
        name="enclave-${var.tenant}-bucket-data-events",
        s3_bucket_name=ref("var.cloudtrail_bucket_name"),
        s3_key_prefix="enclave-${var.tenant}",
        include_global_service_events=False,
        is_multi_region_trail=True,
        enable_log_file_validation=True,
        kms_key_id=ref("local.key_arn"),
        advanced_event_selector=[
            CloudtrailAdvancedEventSelector(
                name="Object-level events under the tenant prefix",
                field_selector=[
                    CloudtrailAdvancedEventSelectorFieldSelector(field="eventCategory", equal_to=["Data"]),
                    CloudtrailAdvancedEventSelectorFieldSelector(field="resources.type", equal_to=["AWS::S3::Object"]),
                    CloudtrailAdvancedEventSelectorFieldSelector(
                        field="resources.ARN", starts_with=["${local.bucket_arn}/${var.prefix}"]
                    ),
                ],
            )
        ],
        count=count_if(DATA_EVENTS),
    )
    stack.annotate(
        trail,
        "CloudTrail data events for objects under the prefix (only when cloudtrail_bucket_name is set).",
        Skip("CKV_AWS_252", "delivery notifications are optional; the trail's readers poll its bucket"),
        Skip("CKV2_AWS_10", "a trail of data events only; send it to CloudWatch Logs if your SIEM reads from there"),
    )


def _outputs(stack: KitStack) -> None:
    stack.output("role_arn", ref("aws_iam_role.access_role.arn"), "The role the platform assumes (--role-arn).")
    stack.output("external_id", ref("var.external_id"), "The ExternalId the role's trust requires (--external-id).")
    stack.output("region", ref("var.region"), "The bucket's region (--region).")
    stack.output("kms_key_arn", ref("local.key_arn"), "The bucket's KMS key.")
    stack.tenant_outputs(
        "--backend s3 --region ${var.region} --role-arn ${aws_iam_role.access_role.arn} "
        "--external-id ${var.external_id}"
    )
