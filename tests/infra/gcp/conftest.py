"""Runs the GCP cloud module offline under Pulumi mocks, once per spec variant, for the tests here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pulumi
import pytest

from infra.cloud import BuildContext, TenantInfrastructure
from infra.gcp import build
from infra.gcp.mock_outputs import FAKERS, INVOKES
from infra.mockrun import MockedResource, MockRun, run_program
from infra.spec import TenantSpec

DATABASE_PASSWORD = "db-Secret-9f3a1c77e2"  # a test value, checked never to leak
CACHE_TOKEN = "cache-Secret-4b8d0e21aa"
CONFIG = {"enclave:databasePassword": DATABASE_PASSWORD, "enclave:cacheAuthToken": CACHE_TOKEN}


class _Harness(pulumi.ComponentResource):
    """Stands in for infra/tenant.py's TenantStack: the parent of everything the cloud module creates."""

    def __init__(self, spec: TenantSpec, captured: dict[str, TenantInfrastructure]) -> None:
        super().__init__("enclave:index:TenantStack", spec.name)
        captured["infra"] = build(BuildContext(spec=spec, parent=self))
        self.register_outputs({})


def make_spec(**overrides: Any) -> TenantSpec:
    base: dict[str, Any] = {
        "name": "acme",
        "cloud": "gcp",
        "region": "europe-west1",
        "size": "small",
        "network_cidr": "10.20.0.0/16",
        "hostname": "acme.enclave.example.com",
        "gcp_project": "acme-prod-123",
    }
    return TenantSpec.model_validate({**base, **overrides})


class GcpRun:
    def __init__(self, spec: TenantSpec, run: MockRun, resolved: dict[str, Any]) -> None:
        self.spec = spec
        self.run = run
        self.resolved = resolved  # values of the TenantInfrastructure outputs, with their secret flags

    def of_type(self, type_token: str) -> list[MockedResource]:
        return self.run.of_type(type_token)

    def one(self, type_token: str) -> MockedResource:
        return self.run.one(type_token)

    def named(self, type_token: str, name: str) -> MockedResource:
        found = [r for r in self.of_type(type_token) if r.name == name]
        assert len(found) == 1, f"expected one {type_token} named {name}, found {len(found)}"
        return found[0]


def _capture(resolved: dict[str, Any], key: str, output: pulumi.Output[Any]) -> None:
    """Records an output's value and whether it is secret, once the mock engine resolves it."""

    def keep(value: Any) -> Any:
        resolved[key] = value
        return value

    def keep_secret(secret: bool) -> bool:
        resolved[f"secret:{key}"] = secret
        return secret

    output.apply(keep)
    is_secret: Awaitable[bool] = asyncio.ensure_future(output.is_secret())
    secret_flag: pulumi.Output[bool] = pulumi.Output.from_input(is_secret)
    secret_flag.apply(keep_secret)


def run_gcp(spec: TenantSpec) -> GcpRun:
    captured: dict[str, TenantInfrastructure] = {}
    resolved: dict[str, Any] = {}

    def program() -> None:
        _Harness(spec, captured)
        infra = captured["infra"]
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
            **{f"extra:{k}": v for k, v in infra.extra_outputs.items()},
        }
        if infra.private_link_service is not None:
            outputs["private_link_service"] = infra.private_link_service
        for key, annotation in infra.gateway_service_account_annotations.items():
            outputs[f"sa_annotation:{key}"] = pulumi.Output.from_input(annotation)
        for key, output in outputs.items():
            _capture(resolved, key, output)
        resolved["infra"] = infra

    run = run_program(program, project="enclave", stack=spec.name, config=CONFIG, fakers=FAKERS, invokes=INVOKES)
    return GcpRun(spec, run, resolved)


@pytest.fixture(scope="session")
def gcp_run() -> Callable[..., GcpRun]:
    """Runs a spec variant once per test session (runs are deterministic), keyed by its overrides."""
    cache: dict[str, GcpRun] = {}

    def get(**overrides: Any) -> GcpRun:
        key = repr(sorted(overrides.items()))
        if key not in cache:
            cache[key] = run_gcp(make_spec(**overrides))
        return cache[key]

    return get
