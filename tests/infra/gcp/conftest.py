"""GCP spec variants and accessors over the one cloud harness (tests/infra/cloud_harness.py), run once per
spec variant for the tests here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.mockrun import MockedResource, MockRun
from infra.spec import TenantSpec
from tests.infra.cloud_harness import run_cloud

DATABASE_PASSWORD = "db-Secret-9f3a1c77e2"  # a test value, checked never to leak
CACHE_TOKEN = "cache-Secret-4b8d0e21aa"
CONFIG = {
    "enclave:databasePassword": DATABASE_PASSWORD,
    "enclave:cacheAuthToken": CACHE_TOKEN,
    "enclave:auditSigningKey": "audit-signing-key-stand-in",
    "enclave:secretsKey": "secrets-key-stand-in",
}


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


def run_gcp(spec: TenantSpec) -> GcpRun:
    built = run_cloud(spec, CONFIG)
    run, infra = built.run, built.infra
    resolved: dict[str, Any] = {"infra": infra}
    for key, (value, secret) in built.resolved.items():
        resolved[key] = value
        resolved[f"secret:{key}"] = secret
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
