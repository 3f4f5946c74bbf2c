"""The security-relevant properties of the committed AWS kit, read from its JSON and evaluated for a tenant's
values (what moto cannot check: conditions, the bucket policy, the key policy, CORS, the optional parts)."""

from __future__ import annotations

from typing import Any

import pytest

from storage_connector.backends import parse_spec
from storage_connector.s3 import session_name
from tests.infra.byob.terraform_eval import Scope, load_kit

VALUES = {
    "tenant": "acme",
    "region": "eu-west-1",
    "bucket_name": "acme-data",
    "prefix": "tenants/acme/",
    "platform_principal_arn": "arn:aws:iam::111122223333:role/acme-gateway",
    "external_id": "0123456789abcdef0123456789abcdef",
    "gateway_url": "https://acme.enclave.example.com",
}
ATTRIBUTES = {
    "data.aws_partition.partition": {"partition": "aws"},
    "data.aws_caller_identity.caller": {"account_id": "444455556666"},
    "aws_iam_role.access_role": {"arn": "arn:aws:iam::444455556666:role/enclave-acme-bucket-access", "id": "r"},
    "aws_kms_key.bucket_key": {"arn": "arn:aws:kms:eu-west-1:444455556666:key/k-1", "key_id": "k-1"},
}


def scope(**changes: Any) -> Scope:
    return Scope(load_kit("aws"), {**VALUES, **changes}, ATTRIBUTES)


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_only_the_platform_principal_with_the_external_id_and_the_tenants_session_name_is_trusted() -> None:
    [trust] = scope().policy("trust_policy")["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == ["sts:AssumeRole"]
    assert trust["Principal"] == {"AWS": [VALUES["platform_principal_arn"]]}
    # StringEquals on a key the request lacks is false in AWS, so AssumeRole without an ExternalId is refused
    # (IAM User Guide, "Condition operators": https://docs.aws.amazon.com/IAM/latest/UserGuide/
    # reference_policies_elements_condition_operators.html) — moto lets that case through, hence this check.
    assert trust["Condition"] == {
        "StringEquals": {"sts:ExternalId": [VALUES["external_id"]], "sts:RoleSessionName": [session_name("acme")]}
    }


def test_an_account_root_or_a_short_external_id_is_refused_by_the_kit() -> None:
    assert any(
        "platform_principal_arn" in e for e in scope(platform_principal_arn="arn:aws:iam::1:root").validation_errors()
    )
    assert any(
        "platform_principal_arn" in e
        for e in scope(platform_principal_arn="arn:aws:iam::111122223333:root").validation_errors()
    )
    assert any("external_id" in e for e in scope(external_id="acme").validation_errors())
    assert any("prefix" in e for e in scope(prefix="tenants/*").validation_errors())  # a wildcard would widen it
    assert scope().validation_errors() == []


def test_the_permissions_are_the_prefix_only() -> None:
    access = statements(scope().policy("access_policy"))
    assert set(access) == {"ObjectsUnderTenantPrefix", "ListTenantPrefixOnly", "BucketKeyThroughS3"}
    objects = access["ObjectsUnderTenantPrefix"]
    assert objects["Resource"] == ["arn:aws:s3:::acme-data/tenants/acme/*"]
    assert sorted(objects["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    listing = access["ListTenantPrefixOnly"]
    assert listing["Action"] == ["s3:ListBucket"] and listing["Resource"] == ["arn:aws:s3:::acme-data"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["tenants/acme/*"]}}
    key = access["BucketKeyThroughS3"]
    assert key["Resource"] == [ATTRIBUTES["aws_kms_key.bucket_key"]["arn"]]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}
    assert all(s["Effect"] == "Allow" and "*" not in str(s.get("Resource")).replace("/*", "") for s in access.values())


def test_the_switch_removes_the_permission_and_the_key_grant_but_keeps_the_trust() -> None:
    on, off = scope(), scope(access_enabled=False)
    assert on.count("resource", "aws_iam_role_policy", "access_permissions") == 1
    assert off.count("resource", "aws_iam_role_policy", "access_permissions") == 0
    assert "PlatformRoleUsesKeyThroughS3" in statements(on.policy("key_policy"))
    assert "PlatformRoleUsesKeyThroughS3" not in statements(off.policy("key_policy"))
    assert off.count("resource", "aws_iam_role", "access_role") is None  # the role and its trust stay
    assert off.policy("trust_policy") == on.policy("trust_policy")


def test_the_key_is_used_only_through_s3_by_the_role_and_named_users() -> None:
    policy = statements(scope(kms_key_users=["arn:aws:iam::444455556666:role/analysts"]).policy("key_policy"))
    admin = policy["AccountAdministersKeyWithoutUsingIt"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:*"} & set(admin["Action"])
    assert not any(
        a.startswith(("kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt", "kms:Generate")) for a in admin["Action"]
    )
    platform = policy["PlatformRoleUsesKeyThroughS3"]
    assert platform["Principal"] == {"AWS": [ATTRIBUTES["aws_iam_role.access_role"]["arn"]]}
    users = policy["CustomerPrincipalsUseKeyThroughS3"]
    assert users["Principal"] == {"AWS": ["arn:aws:iam::444455556666:role/analysts"]}
    for use in (platform, users):
        assert use["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}
    assert "CustomerPrincipalsUseKeyThroughS3" not in statements(scope().policy("key_policy"))
    s = scope()
    assert s.count("resource", "aws_kms_key", "bucket_key") == 1
    existing = scope(kms_key_arn="arn:aws:kms:eu-west-1:444455556666:key/existing")
    assert existing.count("resource", "aws_kms_key", "bucket_key") == 0
    assert statements(existing.policy("access_policy"))["BucketKeyThroughS3"]["Resource"] == [
        "arn:aws:kms:eu-west-1:444455556666:key/existing"
    ]
    key = load_kit("aws")["resource"]["aws_kms_key"]["bucket_key"]
    assert key["enable_key_rotation"] is True and key["lifecycle"]["prevent_destroy"] is True


def test_the_bucket_is_private_encrypted_versioned_and_tls_only() -> None:
    kit = load_kit("aws")["resource"]
    s = scope()
    public = kit["aws_s3_bucket_public_access_block"]["bucket_public_access_block"]
    for setting in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert public[setting] is True
    assert (
        kit["aws_s3_bucket_ownership_controls"]["bucket_ownership"]["rule"]["object_ownership"] == "BucketOwnerEnforced"
    )
    assert kit["aws_s3_bucket_versioning"]["bucket_versioning"]["versioning_configuration"]["status"] == "Enabled"
    [rule] = kit["aws_s3_bucket_server_side_encryption_configuration"]["bucket_encryption"]["rule"]
    default = s.value(rule["apply_server_side_encryption_by_default"])
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": ATTRIBUTES["aws_kms_key.bucket_key"]["arn"]}
    tls = statements(s.policy("tls_only_policy"))
    assert tls["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}
    assert tls["DenyTlsBelow12"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": ["1.2"]}}
    assert all(t["Effect"] == "Deny" and t["Principal"] == "*" for t in tls.values())
    [cors] = s.value(kit["aws_s3_bucket_cors_configuration"]["bucket_cors"]["cors_rule"])
    assert cors["allowed_origins"] == ["https://acme.enclave.example.com"]
    assert kit["aws_s3_bucket"]["bucket"]["lifecycle"]["prevent_destroy"] is True


def test_an_existing_bucket_is_read_and_left_alone() -> None:
    s = scope(create_bucket=False)
    kit = load_kit("aws")
    assert s.count("data", "aws_s3_bucket", "existing_bucket") == 1
    for type_, blocks in kit["resource"].items():
        if type_.startswith("aws_s3_bucket"):
            for name in blocks:
                assert s.count("resource", type_, name) == 0, f"{type_}.{name} would change the existing bucket"


@pytest.mark.parametrize(
    ("changes", "on"),
    [
        ({}, set()),
        ({"access_log_bucket": "acme-logs"}, {"aws_s3_bucket_logging"}),
        ({"cloudtrail_bucket_name": "acme-trail"}, {"aws_cloudtrail"}),
    ],
)
def test_optional_parts_follow_their_variables(changes: dict[str, Any], on: set[str]) -> None:
    s = scope(**changes)
    assert (s.count("resource", "aws_s3_bucket_logging", "bucket_access_logging") == 1) == (
        "aws_s3_bucket_logging" in on
    )
    assert (s.count("resource", "aws_cloudtrail", "data_events_trail") == 1) == ("aws_cloudtrail" in on)
    if "aws_cloudtrail" in on:
        assert "CloudTrailEncryptsDataEventLogs" in statements(s.policy("key_policy"))
        trail = s.value(load_kit("aws")["resource"]["aws_cloudtrail"]["data_events_trail"])
        selectors = {f["field"]: f for f in trail["advanced_event_selector"][0]["field_selector"]}
        assert selectors["resources.ARN"]["starts_with"] == ["arn:aws:s3:::acme-data/tenants/acme/"]


def test_the_outputs_are_what_storage_connect_accepts() -> None:
    s = scope()
    outputs = {name: s.template(o["value"]) for name, o in load_kit("aws")["output"].items()}
    spec = parse_spec(
        {
            "backend": "s3",
            "bucket": outputs["bucket"],
            "prefix": outputs["prefix"],
            "region": outputs["region"],
            "role_arn": outputs["role_arn"],
            "external_id": outputs["external_id"],
        }
    )
    assert spec.prefix == "tenants/acme/" and spec.role_arn == ATTRIBUTES["aws_iam_role.access_role"]["arn"]
    assert "--role-arn " + spec.role_arn in outputs["enclave_storage_connect"]
    assert "--tenant acme " in outputs["enclave_storage_connect"]
