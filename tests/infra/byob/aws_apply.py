"""A small `terraform apply` for the IAM part of the committed AWS kit, against moto: it reads
kits/byob/aws/cdk.tf.json, evaluates it for the given variables (terraform_eval) and creates what the kit
declares — the bucket (when the kit creates it), the KMS key with the kit's key policy, the role with the kit's
trust policy, and the role's permission policy when its `count` is 1. Applying again with other variables
changes what changed, as Terraform would: the permission policy is deleted when access_enabled turns false.

Not applied: the bucket policy, encryption, CORS and the trail. moto does not evaluate the conditions of a
bucket policy (a Deny on aws:SecureTransport would deny everything) nor KMS key policies, so applying them here
would prove nothing; tests/infra/byob/test_aws_kit.py checks them structurally."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.infra.byob.terraform_eval import Scope, load_kit

ACCOUNT = "123456789012"  # moto's default account


@dataclass
class AppliedKit:
    iam: Any
    s3: Any
    kms: Any
    variables: dict[str, Any]
    role_name: str = ""
    role_arn: str = ""
    key_arn: str = ""

    def scope(self, **changes: Any) -> Scope:
        attributes = {
            "data.aws_partition.partition": {"partition": "aws"},
            "data.aws_caller_identity.caller": {"account_id": ACCOUNT},
            "aws_iam_role.access_role": {"arn": self.role_arn, "id": self.role_name},
            "aws_kms_key.bucket_key": {"arn": self.key_arn, "key_id": self.key_arn.rsplit("/", 1)[-1]},
        }
        return Scope(load_kit("aws"), {**self.variables, **changes}, attributes)

    def apply(self, **changes: Any) -> Scope:
        """Create (first call) or update the kit's IAM resources for the variables with `changes`."""
        self.variables.update(changes)
        scope = self.scope()
        assert scope.validation_errors() == []
        kit = scope.terraform
        if not self.role_name:
            self._create(scope, kit)
        scope = self.scope()
        permissions = kit["resource"]["aws_iam_role_policy"]["access_permissions"]
        policy_name = scope.template(permissions["name"])
        present = policy_name in self.iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]
        wanted = scope.count("resource", "aws_iam_role_policy", "access_permissions") == 1
        if wanted:
            self.iam.put_role_policy(
                RoleName=self.role_name,
                PolicyName=policy_name,
                PolicyDocument=json.dumps(scope.policy("access_policy")),
            )
        elif present:
            self.iam.delete_role_policy(RoleName=self.role_name, PolicyName=policy_name)
        if scope.count("resource", "aws_kms_key", "bucket_key") == 1:
            self.kms.put_key_policy(
                KeyId=self.key_arn, PolicyName="default", Policy=json.dumps(scope.policy("key_policy"))
            )
        return scope

    def _create(self, scope: Scope, kit: dict[str, Any]) -> None:
        role = kit["resource"]["aws_iam_role"]["access_role"]
        self.role_name = scope.template(role["name"])
        response = self.iam.create_role(
            RoleName=self.role_name,
            AssumeRolePolicyDocument=json.dumps(scope.policy("trust_policy")),
            MaxSessionDuration=role["max_session_duration"],
            Description=role["description"],
        )
        self.role_arn = response["Role"]["Arn"]
        if scope.count("resource", "aws_kms_key", "bucket_key") == 1:
            self.key_arn = self.kms.create_key(Description=kit["resource"]["aws_kms_key"]["bucket_key"]["description"])[
                "KeyMetadata"
            ]["Arn"]
        if scope.count("resource", "aws_s3_bucket", "bucket") == 1:
            region = scope.variables_with_defaults()["region"]
            self.s3.create_bucket(
                Bucket=scope.template(kit["resource"]["aws_s3_bucket"]["bucket"]["bucket"]),
                CreateBucketConfiguration={"LocationConstraint": region},
            )
