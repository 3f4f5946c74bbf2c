"""Run the Azure module under Pulumi mocks, inside a stand-in for the TenantStack component (shared by the
Azure tests; a uniquely named module, since every test folder may have its own conftest)."""

from __future__ import annotations

from typing import Any

import pulumi

from infra import mockrun
from infra.azure import build
from infra.azure.mock_outputs import FAKERS, INVOKES
from infra.cloud import BuildContext, TenantInfrastructure
from infra.mockrun import MockRun
from infra.spec import TenantSpec

DB_PASSWORD = "Db-Pa55word-for-tests!"
CACHE_TOKEN = "cache-token-never-used-on-azure"
CONSUMER = "11111111-2222-4333-8444-555555555555"
PEER_SUBSCRIPTION = "99999999-8888-4777-8666-555555555555"
PEER_VNET = (
    f"/subscriptions/{PEER_SUBSCRIPTION}/resourceGroups/corp-net/providers/Microsoft.Network/virtualNetworks/corp"
)
CMK = "https://acme-keys.vault.azure.net/keys/enclave/0123456789abcdef0123456789abcdef"


class _Harness(pulumi.ComponentResource):
    def __init__(self, spec: TenantSpec) -> None:
        super().__init__("enclave:index:TenantStack", spec.name)
        self.infra: TenantInfrastructure = build(BuildContext(spec=spec, parent=self))


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


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """(value, is_secret) of an Output after the run (the mock engine has resolved everything)."""
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(output.future()), bool(_sync_await(output.is_secret()))


def run_azure(spec: TenantSpec) -> AzureRun:
    holder: dict[str, TenantInfrastructure] = {}

    def program() -> None:
        holder["infra"] = _Harness(spec).infra

    run = mockrun.run_program(
        program,
        project="enclave",
        stack=spec.name,
        config={"enclave:databasePassword": DB_PASSWORD, "enclave:cacheAuthToken": CACHE_TOKEN},
        fakers=FAKERS,
        invokes=INVOKES,
    )
    infra = holder["infra"]
    outputs: dict[str, pulumi.Output[Any]] = {
        "kubeconfig": infra.kubeconfig,
        "key_id": infra.key_id,
        "cluster_name": infra.cluster_name,
        "db_host": infra.database.host,
        "db_password": infra.database.password,
        "cache_host": infra.cache.host,
        "cache_token": infra.cache.auth_token,
        "bucket": infra.storage.bucket,
        "platform_identity": infra.storage.platform_identity,
        "audit_trail": infra.audit_trail,
        **{f"sa:{k}": pulumi.Output.from_input(v) for k, v in infra.gateway_service_account_annotations.items()},
    }
    if infra.private_link_service is not None:
        outputs["private_link_service"] = infra.private_link_service
    resolved = {key: _resolve(value) for key, value in outputs.items()}
    return AzureRun(run, infra, resolved)
