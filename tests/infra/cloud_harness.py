"""Runs one cloud module's `build(ctx)` offline under Pulumi mocks, inside a stand-in for the TenantStack
component, and resolves the TenantInfrastructure it returned. Shared by the AWS, GCP and Azure tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from infra.cloud import BuildContext, TenantInfrastructure
from infra.mockrun import MockRun, OutputFaker, run_program
from infra.spec import TenantSpec

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
    return _sync_await(output.future()), bool(_sync_await(output.is_secret()))


def resolved_outputs(infra: TenantInfrastructure) -> dict[str, tuple[Any, bool]]:
    return {key: resolve(output) for key, output in infrastructure_outputs(infra).items()}
