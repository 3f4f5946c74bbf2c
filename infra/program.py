"""The tenant program: what `pulumi up -s <tenant>` runs (via infra/__main__.py) and what the offline preview
runs under mocks. Stack config `enclave:tenant` -> TenantSpec -> TenantStack -> stack outputs."""

from __future__ import annotations

import importlib
from typing import cast

import pulumi
from pydantic import ValidationError

from infra.cloud import CloudModule
from infra.spec import Cloud, TenantSpec
from infra.tenant import TenantStack

TENANT_CONFIG_KEY = "tenant"  # read as `enclave:tenant`


class SpecConfigError(ValueError):
    """The stack's `enclave:tenant` config is missing or does not validate."""


def spec_from_config() -> TenantSpec:
    raw = pulumi.Config("enclave").get_object(TENANT_CONFIG_KEY)
    if raw is None:
        raise SpecConfigError("stack config enclave:tenant is missing; create the stack with `enclave stack init`")
    try:
        return TenantSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecConfigError(f"stack config enclave:tenant is invalid: {exc}") from exc


def load_cloud(cloud: Cloud) -> CloudModule:
    """The cloud package (`infra.aws`, `infra.gcp`, `infra.azure`), imported only when its stack runs."""
    return cast(CloudModule, importlib.import_module(f"infra.{cloud.value}"))


def deploy(spec: TenantSpec, cloud: CloudModule | None = None) -> None:
    """Build the tenant's stack and export its outputs. `cloud` replaces the spec's cloud module (tests)."""
    stack = TenantStack(spec, cloud or load_cloud(spec.cloud))
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
