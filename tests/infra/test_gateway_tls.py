"""TLS on every path into the gateway: AWS terminates it at the NLB; on GCP and Azure, whose load balancers
pass it through, the pods serve HTTPS with the tenant's certificate from stack secrets."""

from __future__ import annotations

from typing import Any

import pytest

from infra.preview import REDACTED, preview_spec
from infra.spec import TenantSpec
from infra.stack_config import required_secrets
from infra.workload import GATEWAY_ENV

SPECS: dict[str, dict[str, Any]] = {
    "aws": {"region": "eu-west-1"},
    "gcp": {"region": "europe-west1", "gcp_project": "acme-enclave-prod"},
    "azure": {"region": "westeurope"},
}


def spec_for(cloud: str) -> TenantSpec:
    base = {"name": "acme", "cloud": cloud, "network_cidr": "10.42.0.0/16", "hostname": "acme.example.com"}
    return TenantSpec.model_validate(base | SPECS[cloud])


def k8s(resources: Any, kind: str, name: str) -> dict[str, Any]:
    (found,) = [r.inputs for r in resources if r.type == f"kubernetes:{kind}" and r.inputs["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_pods_serve_https_where_the_load_balancer_passes_tls_through(cloud: str) -> None:
    spec = spec_for(cloud)
    assert {"tlsCertificate", "tlsPrivateKey"} <= set(required_secrets(spec))
    report = preview_spec(spec)
    assert report.passed, report.violations
    secret = k8s(report.resources, "core/v1:Secret", "gateway-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["stringData"] == REDACTED  # the certificate and key come in as Pulumi secrets
    pod = k8s(report.resources, "apps/v1:Deployment", "gateway")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        **GATEWAY_ENV,
        "ENCLAVE_TLS_CERT_FILE": "/etc/enclave/tls/tls.crt",
        "ENCLAVE_TLS_KEY_FILE": "/etc/enclave/tls/tls.key",
    }
    assert {"name": "tls", "mountPath": "/etc/enclave/tls", "readOnly": True} in container["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "gateway-tls", "defaultMode": 0o440}} in pod["volumes"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"


def test_aws_terminates_tls_at_the_load_balancer() -> None:
    spec = spec_for("aws")
    assert "tlsCertificate" not in required_secrets(spec)
    report = preview_spec(spec)
    assert not [r for r in report.resources if r.inputs.get("metadata", {}).get("name") == "gateway-tls"]
    service = k8s(report.resources, "core/v1:Service", "gateway")
    annotations = service["metadata"]["annotations"]
    assert any(key.endswith("aws-load-balancer-ssl-cert") for key in annotations)
    (container,) = k8s(report.resources, "apps/v1:Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
