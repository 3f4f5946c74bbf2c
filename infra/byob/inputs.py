"""What `enclave byob synth` is told about one tenant, checked against the kit's rules and turned into the kit's
`terraform.tfvars.json`. Pure Python (no terraform-cdk), so bad input is refused in well under a second, before
the provider bindings load. The ExternalId is not asked for: customer IT gets it from the operator and adds it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.byob import rules
from infra.byob.synth import KitCloud


@dataclass(frozen=True)
class KitRequest:
    cloud: KitCloud
    tenant: str
    platform_identity: str
    gateway_url: str
    prefix: str | None = None  # None: tenants/<tenant>/
    existing_bucket: str | None = None  # Azure: ACCOUNT/CONTAINER
    bucket: str | None = None  # a new bucket's name (Azure: ACCOUNT/CONTAINER); None: generated
    kms_key: str | None = None
    region: str | None = None  # AWS region, GCP location
    project: str | None = None  # GCP
    resource_group: str | None = None  # Azure

    @property
    def effective_prefix(self) -> str:
        return rules.default_prefix(self.tenant) if self.prefix is None else self.prefix


@dataclass(frozen=True)
class CloudInputs:
    """Per cloud: which rules the platform identity, bucket and key follow, which options are required, and how
    a request becomes terraform.tfvars.json."""

    identity: rules.Rule
    bucket: rules.Rule | None  # None: Azure's ACCOUNT/CONTAINER, checked by its two rules
    key: rules.Rule | None  # None: the kit takes no key
    required: dict[str, str]  # request field -> its option
    tfvars: Callable[[KitRequest, str, bool], dict[str, Any]]  # (request, bucket, create) -> values


def _values(request: KitRequest, bucket: str, create: bool, names: dict[str, str], **extra: Any) -> dict[str, Any]:
    """The values every kit takes, under the kit's own names for the bucket, its switch and the identity."""
    values: dict[str, Any] = {
        "tenant": request.tenant,
        **extra,
        names["bucket"]: bucket,
        names["create"]: create,
        "prefix": request.effective_prefix,
        names["identity"]: request.platform_identity,
        "gateway_url": request.gateway_url,
    }
    if request.kms_key:
        values[names["key"]] = request.kms_key
    return values


def _aws(request: KitRequest, bucket: str, create: bool) -> dict[str, Any]:
    names = {
        "bucket": "bucket_name",
        "create": "create_bucket",
        "identity": "platform_principal_arn",
        "key": "kms_key_arn",
    }
    return _values(request, bucket, create, names, region=request.region)


def _gcp(request: KitRequest, bucket: str, create: bool) -> dict[str, Any]:
    names = {
        "bucket": "bucket_name",
        "create": "create_bucket",
        "identity": "platform_service_account",
        "key": "kms_key_name",
    }
    return _values(request, bucket, create, names, project=request.project, location=request.region)


def _azure(request: KitRequest, bucket: str, create: bool) -> dict[str, Any]:
    account, container = bucket.split("/")
    names = {"bucket": "bucket_name", "create": "create_storage_account", "identity": "platform_principal_id"}
    return _values(
        request, container, create, names, resource_group_name=request.resource_group, storage_account_name=account
    )


CLOUDS: dict[KitCloud, CloudInputs] = {
    KitCloud.AWS: CloudInputs(rules.AWS_PRINCIPAL, rules.S3_BUCKET, rules.KMS_KEY_ARN, {"region": "--region"}, _aws),
    KitCloud.GCP: CloudInputs(
        rules.GCP_SERVICE_ACCOUNT,
        rules.GCS_BUCKET,
        rules.GCP_KMS_KEY,
        {"region": "--region", "project": "--project"},
        _gcp,
    ),
    KitCloud.AZURE: CloudInputs(rules.AZURE_OBJECT_ID, None, None, {"resource_group": "--resource-group"}, _azure),
}
REGION_RULES = {KitCloud.AWS: rules.AWS_REGION, KitCloud.GCP: rules.GCP_LOCATION}


def generated_bucket(request: KitRequest) -> str:
    """A new bucket's name when none is given: the tenant plus a random suffix (bucket names are global)."""
    suffix = secrets.token_hex(3)
    if request.cloud is KitCloud.AZURE:
        return f"enclave{request.tenant.replace('-', '')}"[:18] + suffix + f"/enclave-{request.tenant}"
    return f"enclave-{request.tenant}-{suffix}"


def _bucket_problems(request: KitRequest, value: str, option: str) -> list[str]:
    spec = CLOUDS[request.cloud]
    if spec.bucket is not None:
        problem = spec.bucket.problem(value)
        return [f"{option}: {problem}"] if problem else []
    account, _, container = value.partition("/")
    if not container:
        return [f"{option}: {value!r} is not ACCOUNT/CONTAINER (the storage account and its container)"]
    found = [rules.AZURE_ACCOUNT.problem(account), rules.AZURE_CONTAINER.problem(container)]
    return [f"{option}: {p}" for p in found if p]


def problems(request: KitRequest) -> list[str]:
    """Every problem with the request, one line each, naming the option; empty when it is fine."""
    spec = CLOUDS[request.cloud]
    found: list[str] = []

    def check(option: str, rule: rules.Rule, value: str | None) -> None:
        problem = None if value is None else rule.problem(value)
        if problem:
            found.append(f"{option}: {problem}")

    check("--tenant", rules.TENANT, request.tenant)
    check("--platform-identity", spec.identity, request.platform_identity)
    check("--gateway-url", rules.GATEWAY_URL, request.gateway_url)
    check("--prefix", rules.PREFIX, request.prefix)
    for field, option in spec.required.items():
        if getattr(request, field) is None:
            found.append(f"{option} is required for the {request.cloud.value} kit")
    if request.cloud in REGION_RULES:
        check("--region", REGION_RULES[request.cloud], request.region)
    if request.cloud is KitCloud.GCP:
        check("--project", rules.GCP_PROJECT, request.project)
    if request.cloud is KitCloud.AZURE:
        check("--resource-group", rules.AZURE_RESOURCE_GROUP, request.resource_group)
    for field, option in (("region", "--region"), ("project", "--project"), ("resource_group", "--resource-group")):
        if getattr(request, field) is not None and field not in spec.required:
            found.append(f"{option} is not used by the {request.cloud.value} kit")
    if request.existing_bucket is not None and request.bucket is not None:
        found.append("--existing-bucket and --bucket exclude each other: one names an existing bucket, one a new one")
    if request.existing_bucket is not None:
        found += _bucket_problems(request, request.existing_bucket, "--existing-bucket")
    if request.bucket is not None:
        found += _bucket_problems(request, request.bucket, "--bucket")
    if request.kms_key is not None:
        if spec.key is None:
            found.append(
                "--kms-key: the Azure kit encrypts with Microsoft-managed keys and infrastructure encryption; "
                "see docs/byob.md for adding a Key Vault key"
            )
        else:
            check("--kms-key", spec.key, request.kms_key)
    return found


def tfvars(request: KitRequest) -> dict[str, Any]:
    """terraform.tfvars.json for a request that has no problems."""
    create = request.existing_bucket is None
    bucket = request.existing_bucket or request.bucket or generated_bucket(request)
    return CLOUDS[request.cloud].tfvars(request, bucket, create)
