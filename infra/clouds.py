"""The cloud registry: every cloud Enclave deploys to registers here once.

A registration names the cloud's package (which builds the parts, infra/cloud.py), its policy table
(`<package>.policy.RULES`), its mock outputs (`<package>.mock_outputs.FAKERS` / `INVOKES`), and the facts the
cloud-agnostic code needs: which spec field holds the account it deploys into, which stack secrets it reads,
whether the gateway pods terminate TLS, and its extra spec checks. Size presets, zones and prices are the
cloud's rows in `infra/sizes.py`, `infra/regions.py` and `infra/prices.json` (via `infra/pricing.py`),
reached through the registration. Adding a cloud: its package, its rows in those tables, one `_register`.

This module imports no cloud SDK: packages are imported only when a stack of that cloud runs, so validating a
spec (`enclave stack init`) stays fast.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, cast

from infra.regions import ZONES
from infra.sizes import PRESETS, Size, SizePreset

if TYPE_CHECKING:
    from infra.cloud import CloudModule
    from infra.mockrun import OutputFaker
    from infra.policy.model import CloudRules
    from infra.spec import TenantSpec


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


SpecCheck = Callable[["TenantSpec"], None]  # raises ValueError with a message for the operator


@dataclass(frozen=True)
class CloudRegistration:
    cloud: Cloud
    title: str  # for messages: "AWS"
    package: str  # `build(ctx)`, `policy`, `mock_outputs` live here
    type_prefix: str  # the provider prefix of its resources' type tokens (`azure-native:...`)
    account_field: str  # the TenantSpec field naming the account / project / subscription deployed into
    account_pattern: str  # what a valid value of that field looks like
    account_help: str
    mock_account: str  # stands in for the account in the offline preview of a spec that names none yet
    gateway_serves_tls: bool  # the load balancer passes TLS through, so the pods serve HTTPS themselves
    own_fields: tuple[str, ...] = ()  # other TenantSpec fields only this cloud uses (refused on the others)
    stack_secrets: tuple[str, ...] = ()  # secrets this cloud reads besides the common ones
    byob_external_id: bool = False  # BYOB trust needs an ExternalId (the confused-deputy guard)
    checks: tuple[SpecCheck, ...] = ()

    def module(self) -> CloudModule:
        return cast("CloudModule", importlib.import_module(self.package))

    def rules(self) -> CloudRules:
        rules: CloudRules = importlib.import_module(f"{self.package}.policy").RULES
        return rules

    def mock_outputs(self) -> tuple[Mapping[str, OutputFaker], Mapping[str, OutputFaker]]:
        """Computed outputs a real provider would return, for the offline preview (fakers, invokes)."""
        module: Any = importlib.import_module(f"{self.package}.mock_outputs")
        return module.FAKERS, module.INVOKES

    @property
    def zones(self) -> Mapping[str, tuple[str, ...]]:
        return ZONES[self.cloud.value]

    @property
    def presets(self) -> Mapping[Size, SizePreset]:
        return PRESETS[self.cloud.value]

    @property
    def price_key(self) -> str:
        """The cloud's key in infra/prices.json and infra/pricing.py."""
        return self.cloud.value

    def check_account(self, value: str | None) -> None:
        if value is not None and not re.fullmatch(self.account_pattern, value):
            raise ValueError(f"{self.account_field} {value!r} is not valid: {self.account_help}")

    def check(self, spec: TenantSpec) -> None:
        self.check_account(getattr(spec, self.account_field))
        for other in REGISTRY.values():
            for field in (other.account_field, *other.own_fields) if other is not self else ():
                if getattr(spec, field):
                    raise ValueError(f"{field} is only for {other.title} tenants")
        for check in self.checks:
            check(spec)


def _aws_byob_needs_external_id(spec: TenantSpec) -> None:
    from infra.spec import StorageMode

    if spec.storage.mode is StorageMode.BYOB and not spec.storage.external_id:
        raise ValueError("AWS BYOB needs storage.external_id (enclave stack init generates one)")


def _aws_certificate_validated_once(spec: TenantSpec) -> None:
    if spec.route53_zone_id and spec.acm_certificate_validated:
        raise ValueError(
            "acm_certificate_validated is for certificates validated by hand; with route53_zone_id the program "
            "writes the validation record itself"
        )


def _gcp_needs_project(spec: TenantSpec) -> None:
    if not spec.gcp_project:
        raise ValueError("gcp_project is required for a GCP tenant")


def _azure_gateway_is_public_or_private(spec: TenantSpec) -> None:
    if spec.connectivity.private_link and spec.connectivity.public_ingress:
        raise ValueError(
            "on Azure the Private Link service rides on the internal load balancer, so one gateway cannot be "
            "both public and private: set connectivity.public_ingress to false (--no-public-ingress)"
        )


REGISTRY: Final[dict[Cloud, CloudRegistration]] = {}


def _register(registration: CloudRegistration) -> None:
    if registration.cloud in REGISTRY:
        raise ValueError(f"cloud {registration.cloud.value} is registered twice")
    REGISTRY[registration.cloud] = registration


_register(
    CloudRegistration(
        cloud=Cloud.AWS,
        title="AWS",
        package="infra.aws",
        type_prefix="aws",
        account_field="aws_account_id",
        account_pattern=r"\d{12}",
        account_help="an AWS account id is 12 digits",
        mock_account="123456789012",
        own_fields=("route53_zone_id", "acm_certificate_validated"),
        gateway_serves_tls=False,  # the NLB terminates TLS with an ACM certificate
        stack_secrets=("cacheAuthToken",),  # ElastiCache takes the operator's AUTH token
        byob_external_id=True,
        checks=(_aws_byob_needs_external_id, _aws_certificate_validated_once),
    )
)
_register(
    CloudRegistration(
        cloud=Cloud.GCP,
        title="GCP",
        package="infra.gcp",
        type_prefix="gcp",
        account_field="gcp_project",
        account_pattern=r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
        account_help="a GCP project id is 6-30 lowercase letters, digits and hyphens, starting with a letter",
        mock_account="offline-preview",
        gateway_serves_tls=True,
        checks=(_gcp_needs_project,),
    )
)
_register(
    CloudRegistration(
        cloud=Cloud.AZURE,
        title="Azure",
        package="infra.azure",
        type_prefix="azure-native",
        account_field="azure_subscription_id",
        account_pattern=r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        account_help="an Azure subscription id is a lowercase GUID",
        mock_account="00000000-0000-4000-8000-000000000000",
        gateway_serves_tls=True,
        own_fields=("azure_operator_group_ids",),
        checks=(_azure_gateway_is_public_or_private,),
    )
)


def registration(cloud: Cloud | str) -> CloudRegistration:
    return REGISTRY[Cloud(cloud)]


def registrations() -> Iterable[CloudRegistration]:
    return REGISTRY.values()


def rule_modules() -> dict[str, str]:
    """Type-token provider prefix -> policy module, for the policy engine."""
    return {r.type_prefix: f"{r.package}.policy" for r in REGISTRY.values()}
