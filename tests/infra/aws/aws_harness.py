"""AWS spec variants and accessors over the one cloud harness (tests/infra/cloud_harness.py).
A uniquely named module (not `conftest`): other clouds' test folders have their own conftest.py."""

from __future__ import annotations

from typing import Any

from infra.mockrun import MockedResource, MockRun
from infra.spec import TenantSpec
from tests.infra.cloud_harness import run_cloud

DB_PASSWORD = "db-Secret-0123456789"
CACHE_TOKEN = "cache-Token-0123456789abcdef"
SECRETS = (DB_PASSWORD, CACHE_TOKEN)
CONFIG = {
    "enclave:databasePassword": DB_PASSWORD,
    "enclave:cacheAuthToken": CACHE_TOKEN,
    "enclave:auditSigningKey": "audit-signing-key-stand-in",
    "enclave:secretsKey": "secrets-key-stand-in",
}
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker key for a serialized secret


def make_spec(**overrides: Any) -> TenantSpec:
    base: dict[str, Any] = {
        "name": "acme",
        "cloud": "aws",
        "region": "eu-west-1",
        "network_cidr": "10.20.0.0/16",
        "hostname": "acme.enclave.example.com",
    }
    return TenantSpec.model_validate({**base, **overrides})


class Built:
    """A finished mock run plus the TenantInfrastructure's resolved values."""

    def __init__(self, run: MockRun, resolved: dict[str, Any]) -> None:
        self.run = run
        self.resolved = resolved

    def one(self, type_token: str) -> MockedResource:
        return self.run.one(type_token)

    def all(self, type_token: str) -> list[MockedResource]:
        return self.run.of_type(type_token)

    def named(self, type_token: str, name: str) -> MockedResource:
        found = [r for r in self.run.of_type(type_token) if r.name == name]
        assert len(found) == 1, f"expected one {type_token} named {name}, found {len(found)}"
        return found[0]


def build_stack(spec: TenantSpec, config: dict[str, str] | None = None) -> Built:
    built = run_cloud(spec, CONFIG if config is None else config)
    run, infra_ = built.run, built.infra
    resolved: dict[str, Any] = {}
    for key, (value, secret) in built.resolved.items():
        resolved[key] = value
        resolved[f"{key}.secret"] = secret
    resolved["private_cidrs"] = infra_.private_cidrs
    resolved["pod_labels"] = dict(infra_.gateway_pod_labels)
    resolved["external_id"] = infra_.storage.external_id
    return Built(run, resolved)
