"""The tenant program: what `pulumi up -s <tenant>` runs (via infra/__main__.py) and what the offline preview
runs under mocks. Stack config `enclave:tenant` -> TenantSpec -> TenantStack -> stack outputs."""

from __future__ import annotations

import pulumi
from pydantic import ValidationError

from infra.cloud import CloudModule
from infra.clouds import Cloud, registration
from infra.spec import TenantSpec
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
    """The cloud's package (from the registry, infra/clouds.py), imported only when its stack runs."""
    return registration(cloud).module()


def require_account(spec: TenantSpec) -> None:
    """A real deployment names the account it deploys into, so the provider can be pinned to it and no stack
    lands in whatever account the operator's credentials happen to point at. The offline preview does not
    need one (it fakes the account)."""
    registration = spec.cloud_registration
    if spec.account is None:
        raise SpecConfigError(
            f"tenant {spec.name!r} names no {registration.title} account: set {registration.account_field} in "
            f"enclave:tenant (enclave stack init --{registration.account_field.replace('_', '-')} ...)"
        )


def deploy(spec: TenantSpec, cloud: CloudModule | None = None, *, offline: bool = False) -> None:
    """Build the tenant's stack and export its outputs. `cloud` replaces the spec's cloud module (tests);
    `offline` is the mock run of the preview, which needs no real account."""
    if not offline:
        require_account(spec)
    stack = TenantStack(spec, cloud or load_cloud(spec.cloud))
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
