"""The one test harness for cloud modules: runs a cloud's `build(ctx)` offline under Pulumi mocks, inside a
stand-in for the TenantStack component, with the stack's region and account, and resolves the
TenantInfrastructure it returned. `run_cloud` does it for any registered cloud (the contract suite); the
per-cloud helpers (aws/aws_harness.py, azure/azure_harness.py, gcp/conftest.py) only add that cloud's
spec variants and accessors on top of `run_cloud`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.cloud import BuildContext, TenantInfrastructure
from infra.mockrun import MockRun, OutputFaker, run_program
from infra.preview import mock_place
from infra.pulumi_internals import run_on_pulumi_loop
from infra.spec import Cloud, TenantSpec

Build = Callable[[BuildContext], TenantInfrastructure]


class StandInTenantStack(pulumi.ComponentResource):
    """The parent of everything a cloud module creates, typed like infra/tenant.py's TenantStack."""

    def __init__(self, spec: TenantSpec, build: Build) -> None:
        super().__init__("enclave:index:TenantStack", spec.name)
        self.infra = build(BuildContext(spec=spec, parent=self))
        self.register_outputs({})


def run_build(
    spec: TenantSpec,
    build: Build,
    *,
    fakers: Mapping[str, OutputFaker],
    invokes: Mapping[str, OutputFaker],
    config: Mapping[str, str],
) -> tuple[MockRun, TenantInfrastructure]:
    holder: list[TenantInfrastructure] = []
    run = run_program(
        lambda: holder.append(StandInTenantStack(spec, build).infra),
        project="enclave",
        stack=spec.name,
        config=config,
        fakers=fakers,
        invokes=invokes,
        place=mock_place(spec),
    )
    return run, holder[0]


def infrastructure_outputs(infra: TenantInfrastructure) -> dict[str, pulumi.Output[Any]]:
    """Every Output of a TenantInfrastructure under one naming: fields by name; annotations as `sa:<key>`
    and `lb:<key>`; extra outputs as `extra:<name>`."""
    outputs: dict[str, pulumi.Output[Any]] = {
        "kubeconfig": infra.kubeconfig,
        "cluster_name": infra.cluster_name,
        "key_id": infra.key_id,
        "db_host": infra.database.host,
        "db_password": infra.database.password,
        "cache_host": infra.cache.host,
        "cache_token": infra.cache.auth_token,
        "bucket": infra.storage.bucket,
        "platform_identity": infra.storage.platform_identity,
        "audit_trail": infra.audit_trail,
    }
    if infra.private_link_service is not None:
        outputs["private_link_service"] = infra.private_link_service
    for prefix, mapping in (
        ("sa", infra.gateway_service_account_annotations),
        ("lb", infra.load_balancer_annotations),
        ("extra", infra.extra_outputs),
    ):
        for key, value in mapping.items():
            outputs[f"{prefix}:{key}"] = pulumi.Output.from_input(value)
    return outputs


def resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """(value, is_secret) of an Output after the run (the mock engine has resolved everything)."""
    return run_on_pulumi_loop(output.future()), bool(run_on_pulumi_loop(output.is_secret()))


def resolved_outputs(infra: TenantInfrastructure) -> dict[str, tuple[Any, bool]]:
    return {key: resolve(output) for key, output in infrastructure_outputs(infra).items()}


# ------------------------------------------------------------------------------------------------ any cloud
# One harness for every registered cloud: a spec per cloud, the cloud's own mock outputs from the registry, and
# one result type. A new cloud adds its row to CONTRACT_SPECS and inherits tests/infra/test_cloud_contract.py.

CONTRACT_SPECS: dict[Cloud, dict[str, Any]] = {
    Cloud.AWS: {"region": "eu-west-1", "aws_account_id": "210987654321"},
    Cloud.GCP: {"region": "europe-west1", "gcp_project": "acme-prod-123"},
    Cloud.AZURE: {"region": "westeurope", "azure_subscription_id": "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"},
}
CONTRACT_SECRETS = {
    "enclave:databasePassword": "db-Contract-0123456789",
    "enclave:cacheAuthToken": "cache-Contract-0123456789abcdef",
    "enclave:auditSigningKey": "audit-signing-key-stand-in",
    "enclave:secretsKey": "secrets-key-stand-in",
}


def contract_spec(cloud: Cloud, **overrides: Any) -> TenantSpec:
    base = {"name": "acme", "cloud": cloud.value, "network_cidr": "10.20.0.0/16", "hostname": "acme.example.com"}
    return TenantSpec.model_validate({**base, **CONTRACT_SPECS[cloud], **overrides})


@dataclass
class CloudRun:
    """A finished mock run of one cloud module, what build() returned, and its Outputs resolved."""

    spec: TenantSpec
    run: MockRun
    infra: TenantInfrastructure
    resolved: dict[str, tuple[Any, bool]]


def run_cloud(spec: TenantSpec, config: Mapping[str, str] | None = None) -> CloudRun:
    """Build `spec` with its registered cloud module and that cloud's mock outputs."""
    registration = spec.cloud_registration
    fakers, invokes = registration.mock_outputs()
    run, infra = run_build(
        spec,
        registration.module().build,
        fakers=fakers,
        invokes=invokes,
        config=CONTRACT_SECRETS if config is None else config,
    )
    return CloudRun(spec, run, infra, resolved_outputs(infra))


def found(check: Callable[[Any, Any], Any], view: Any, ctx: Any) -> str:
    """Every problem a policy check reports for `view`, joined ("" when it complies)."""
    return "; ".join(check(view, ctx))
