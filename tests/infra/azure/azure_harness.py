"""Azure spec variants and accessors over the one cloud harness (tests/infra/cloud_harness.py), shared by the
Azure tests; a uniquely named module, since every test folder may have its own conftest."""

from __future__ import annotations

from typing import Any

from infra.cloud import TenantInfrastructure
from infra.mockrun import MockRun
from infra.spec import TenantSpec
from tests.infra.cloud_harness import run_cloud

DB_PASSWORD = "Db-Pa55word-for-tests!"
CACHE_TOKEN = "cache-token-never-used-on-azure"
CONSUMER = "11111111-2222-4333-8444-555555555555"
PEER_SUBSCRIPTION = "99999999-8888-4777-8666-555555555555"
PEER_VNET = (
    f"/subscriptions/{PEER_SUBSCRIPTION}/resourceGroups/corp-net/providers/Microsoft.Network/virtualNetworks/corp"
)
CMK = "https://acme-keys.vault.azure.net/keys/enclave/0123456789abcdef0123456789abcdef"


def make_spec(**overrides: Any) -> TenantSpec:
    base: dict[str, Any] = {
        "name": "acme",
        "cloud": "azure",
        "region": "westeurope",
        "network_cidr": "10.20.0.0/16",
        "hostname": "files.acme.example.com",
    }
    return TenantSpec.model_validate({**base, **overrides})


class AzureRun:
    """A finished mock run plus what build() returned, with the Outputs resolved."""

    def __init__(self, run: MockRun, infra: TenantInfrastructure, resolved: dict[str, Any]) -> None:
        self.run = run
        self.infra = infra
        self.resolved = resolved

    def of_type(self, kind: str) -> list[Any]:
        return self.run.of_type(f"azure-native:{kind}")

    def one(self, kind: str) -> Any:
        return self.run.one(f"azure-native:{kind}")

    def named(self, kind: str, name: str) -> Any:
        found = [r for r in self.of_type(kind) if r.name == name]
        assert len(found) == 1, f"expected one {kind} named {name}, found {[r.name for r in self.of_type(kind)]}"
        return found[0]


def run_azure(spec: TenantSpec) -> AzureRun:
    config = {
        "enclave:databasePassword": DB_PASSWORD,
        "enclave:cacheAuthToken": CACHE_TOKEN,
        "enclave:auditSigningKey": "audit-signing-key-stand-in",
        "enclave:secretsKey": "secrets-key-stand-in",
    }
    built = run_cloud(spec, config)
    return AzureRun(built.run, built.infra, built.resolved)
