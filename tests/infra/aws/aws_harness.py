"""Runs the AWS module offline under Pulumi mocks (infra.mockrun) inside a stand-in TenantStack.
A uniquely named module (not `conftest`): other clouds' test folders have their own conftest.py."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

import infra.aws
from infra.aws.mock_outputs import FAKERS, INVOKES
from infra.cloud import BuildContext, TenantInfrastructure
from infra.mockrun import MockedResource, MockRun, run_program
from infra.spec import TenantSpec

DB_PASSWORD = "db-Secret-0123456789"
CACHE_TOKEN = "cache-Token-0123456789abcdef"
SECRETS = (DB_PASSWORD, CACHE_TOKEN)
CONFIG = {"enclave:databasePassword": DB_PASSWORD, "enclave:cacheAuthToken": CACHE_TOKEN}
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker key for a serialized secret


class _Harness(pulumi.ComponentResource):
    def __init__(self, spec: TenantSpec) -> None:
        super().__init__("enclave:index:TenantStack", spec.name, None)
        self.infra = infra.aws.build(BuildContext(spec=spec, parent=self))
        self.register_outputs({})


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


def _resolve(infra_: TenantInfrastructure, sink: dict[str, Any]) -> None:
    """Collect the TenantInfrastructure's outputs; resolved (with their secrecy) after the run."""

    def keep(key: str, value: Any) -> None:
        sink[key] = pulumi.Output.from_input(value)

    keep("kubeconfig", infra_.kubeconfig)
    keep("cluster_name", infra_.cluster_name)
    keep("key_id", infra_.key_id)
    keep("db_host", infra_.database.host)
    keep("db_password", infra_.database.password)
    keep("cache_host", infra_.cache.host)
    keep("cache_token", infra_.cache.auth_token)
    keep("bucket", infra_.storage.bucket)
    keep("platform_identity", infra_.storage.platform_identity)
    keep("audit_trail", infra_.audit_trail)
    for k, v in infra_.gateway_service_account_annotations.items():
        keep(f"sa:{k}", v)
    for k, v in infra_.load_balancer_annotations.items():
        keep(f"lb:{k}", v)
    if infra_.private_link_service is not None:
        keep("private_link_service", infra_.private_link_service)
    for k, v in infra_.extra_outputs.items():
        keep(f"extra:{k}", v)
    sink["private_cidrs"] = infra_.private_cidrs
    sink["pod_labels"] = dict(infra_.gateway_pod_labels)
    sink["external_id"] = infra_.storage.external_id


def build_stack(spec: TenantSpec, config: dict[str, str] | None = None) -> Built:
    resolved: dict[str, Any] = {}

    def program() -> None:
        _resolve(_Harness(spec).infra, resolved)

    run = run_program(
        program,
        project="enclave",
        stack=spec.name,
        config=CONFIG if config is None else config,
        fakers=FAKERS,
        invokes=INVOKES,
    )
    for key, value in list(resolved.items()):
        if isinstance(value, pulumi.Output):
            resolved[key] = _sync_await(value.future())
            resolved[f"{key}.secret"] = _sync_await(value.is_secret())
    return Built(run, resolved)
