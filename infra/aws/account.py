"""The AWS account is the tenant's isolation boundary: one account per tenant (as GitLab Dedicated runs its
tenants). A stack puts account-wide resources in its account: a multi-region CloudTrail that records every
management event of the account (CloudTrail allows 5 trails per Region, a quota that cannot be raised:
"Quotas in AWS CloudTrail", https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html),
three Elastic IPs for the NAT gateways (the default quota is 5 per Region: "Elastic IP address quotas",
https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-eips), the Auto Scaling
service-linked role and key-policy grants scoped to the account. Two tenants in one account would read each
other's events and exhaust the quotas, so the program refuses it.

How it knows: every IAM role the stack creates lives under the path `/enclave/<tenant>/` (IAM paths, "IAM
identifiers", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names).
Before any AWS resource is created the program lists the account's roles under `/enclave/` (ListRoles with a
path prefix, through the tenant's provider, which is pinned to the spec's account) and stops with a clear error
if another tenant's roles are there. IAM is global, so this holds across Regions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pulumi
import pulumi_aws as aws

from infra.spec import TenantSpec

ROLE_PATH_ROOT = "/enclave/"
_TENANT_IN_ROLE_ARN = re.compile(r":role/enclave/(?P<tenant>[^/]+)/")


def role_path(tenant: str) -> str:
    return f"{ROLE_PATH_ROOT}{tenant}/"


def tenants_in(role_arns: Iterable[str]) -> set[str]:
    """The Enclave tenants whose roles an account holds, from the roles' paths."""
    return {m.group("tenant") for arn in role_arns if (m := _TENANT_IN_ROLE_ARN.search(arn))}


def check_account_holds_only(tenant: str, account: str, role_arns: Iterable[str]) -> str:
    """`tenant` if the account holds no other tenant's roles; otherwise a ValueError naming them."""
    others = sorted(tenants_in(role_arns) - {tenant})
    if others:
        raise ValueError(
            f"AWS account {account} already holds Enclave tenant {', '.join(others)}: each tenant needs its own "
            f"account (account-wide audit trail, Elastic IP and trail quotas); give {tenant} another "
            "aws_account_id"
        )
    return tenant


def account_check(spec: TenantSpec, provider: aws.Provider) -> pulumi.Output[str]:
    """Resolves to the tenant's name once the account is known to hold no other tenant; fails otherwise."""
    roles = aws.iam.get_roles_output(path_prefix=ROLE_PATH_ROOT, opts=pulumi.InvokeOutputOptions(provider=provider))
    account = spec.account or "(not named in the spec)"
    return roles.arns.apply(lambda arns: check_account_holds_only(spec.name, account, arns))
