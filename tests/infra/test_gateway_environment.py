"""The contract between a tenant stack and the gateway it deploys: the environment the stack gives the
gateway's pods loads into `enclave.settings.Settings` as it is. pydantic-settings silently ignores unknown
variables, and the gateway refuses to start on one, so a variable the stack sets but the gateway does not
declare would crash-loop every pod of a real deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_cloud import PASSWORDS, FakeCloud

from audit.signing import generate_private_key_pem
from auth.sealing import generate_secrets_key
from enclave.settings import Mode, Settings
from infra.mockrun import MockRun, run_program
from infra.spec import TenantSpec
from infra.tenant import TenantStack
from infra.workload import CONTAINER_PORT

SECRET_SIG = "4dabf18193072939515e22adb298388d"
CONFIG = {
    **PASSWORDS,
    "enclave:ssoClientSecret": "sso-s3cret-value",
    "enclave:tlsCertificate": "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n",
    "enclave:tlsPrivateKey": "stand-in private key",
    # what `enclave audit keygen` prints (a real key: the gateway's settings refuse one that is not)
    "enclave:auditSigningKey": generate_private_key_pem(),
    "enclave:secretsKey": generate_secrets_key(),  # what `enclave secrets keygen` prints
}


def _plain(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def _spec(cloud: str, **extra: Any) -> TenantSpec:
    base: dict[str, Any] = {
        "name": "acme",
        "cloud": cloud,
        "region": {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope"}[cloud],
        "network_cidr": "10.42.0.0/16",
        "hostname": "acme.example.com",
        "sso": {"provider": "oidc", "issuer_url": "https://login.acme.example.com", "client_id": "enclave"},
    }
    if cloud == "gcp":
        base["gcp_project"] = "acme-enclave"
    return TenantSpec.model_validate({**base, **extra})


def _gateway_environment(result: MockRun) -> dict[str, str]:
    """Every variable a gateway container sees: its env entries, and the ConfigMaps and Secrets it mounts
    with envFrom, exactly as the stack declares them."""
    deployment = next(r for r in result.of_type("kubernetes:apps/v1:Deployment") if "gateway" in r.name)
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            kind, name = "kubernetes:core/v1:ConfigMap", source["configMapRef"]["name"]
            data_key = "data"
        else:
            kind, name = "kubernetes:core/v1:Secret", source["secretRef"]["name"]
            data_key = "stringData"
        resource = next(r for r in result.of_type(kind) if r.inputs["metadata"]["name"] == name)
        environment.update({k: str(_plain(v)) for k, v in _plain(resource.inputs[data_key]).items()})
    for entry in container.get("env", []):
        environment[entry["name"]] = str(_plain(entry["value"]))
    return environment


def _load(environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a pod would build them; files the pod mounts (TLS) are stood in for by local files."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("ENCLAVE_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        if name in ("ENCLAVE_TLS_CERT_FILE", "ENCLAVE_TLS_KEY_FILE"):
            stand_in = tmp_path / Path(value).name
            stand_in.write_text("mounted from the tls secret")
            monkeypatch.setenv(name, str(stand_in))
        else:
            monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize(
    ("cloud", "extra"),
    [
        (
            "aws",
            {
                "storage": {
                    "mode": "byob",
                    "bucket": "acme-data",
                    "customer_account": "123456789012",
                    "external_id": "enclave-acme-8f3a2c",
                }
            },
        ),
        ("gcp", {}),
        ("azure", {}),
    ],
)
def test_the_stack_environment_loads_into_the_gateway_settings(
    cloud: str, extra: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(cloud, **extra)
    result = run_program(
        lambda: TenantStack(spec, FakeCloud(external_id=spec.storage.external_id)),
        project="enclave",
        stack="acme",
        config=CONFIG,
    )
    environment = _gateway_environment(result)
    assert "ENCLAVE_STORAGE_BUCKET" in environment and "ENCLAVE_SSO_CLIENT_ID" in environment

    settings = _load(environment, tmp_path, monkeypatch)  # an unknown variable raises UnknownSettingError

    assert settings.mode is Mode.DEDICATED and settings.tenant == "acme"
    assert settings.database_url is not None and settings.database_url.startswith("mysql+pymysql://")
    assert settings.cache_url.startswith("rediss://") or settings.cache_url.startswith("redis://")
    # A pod is reached through its Service: the gateway must listen on every interface, on the port the
    # container declares; every replica signs checkpoints with the one key from the stack's secrets.
    assert settings.host == "0.0.0.0"
    assert settings.port == CONTAINER_PORT
    assert settings.audit_signing_key is not None
    assert (settings.tls_cert_file is not None) == spec.gateway_serves_tls
