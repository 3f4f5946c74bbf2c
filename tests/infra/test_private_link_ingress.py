"""Private connectivity end to end through the real program: the private-link load balancer each cloud
builds reaches the gateway pods through the `gateway-private` Service, and policy accepts exactly that."""

from __future__ import annotations

from typing import Any

import pytest

from infra.mockrun import MockedResource
from infra.policy.kubernetes import service_open_ingress
from infra.policy.model import PRIVATE_LINK_BACKEND_ANNOTATION, PolicyContext, ResourceView
from infra.preview import preview_spec
from infra.spec import TenantSpec

SERVICE = "kubernetes:core/v1:Service"


def private_spec(cloud: str, region: str, consumer: str, **extra: Any) -> TenantSpec:
    return TenantSpec.model_validate(
        {
            "name": "acme",
            "cloud": cloud,
            "region": region,
            "network_cidr": "10.42.0.0/16",
            "hostname": "acme.example.com",
            "connectivity": {"public_ingress": False, "private_link": True, "private_link_consumers": [consumer]},
            **extra,
        }
    )


def service(resources: tuple[MockedResource, ...], name: str) -> dict[str, Any]:
    found = [r.inputs for r in resources if r.type == SERVICE and r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one Service {name}"
    return found[0]


def test_aws_private_link_targets_a_pinned_node_port() -> None:
    from infra.aws.connectivity import PRIVATE_LINK_NODE_PORT

    report = preview_spec(private_spec("aws", "eu-west-1", "123456789012"))
    assert report.passed, report.violations
    private = service(report.resources, "gateway-private")
    assert private["spec"]["type"] == "NodePort"
    assert private["spec"]["externalTrafficPolicy"] == "Cluster"
    assert [p["nodePort"] for p in private["spec"]["ports"]] == [PRIVATE_LINK_NODE_PORT]
    assert private["metadata"]["annotations"] == {PRIVATE_LINK_BACKEND_ANNOTATION: "true"}


def test_gcp_private_service_connect_reaches_pods_by_the_internal_address() -> None:
    report = preview_spec(private_spec("gcp", "europe-west1", "customer-proj-1", gcp_project="acme-enclave-prod"))
    assert report.passed, report.violations
    private = service(report.resources, "gateway-private")
    assert private["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert len(private["spec"]["externalIPs"]) == 1


def test_public_stacks_have_no_private_service() -> None:
    public = TenantSpec.model_validate(
        {
            "name": "acme",
            "cloud": "aws",
            "region": "eu-west-1",
            "network_cidr": "10.42.0.0/16",
            "hostname": "a.example.com",
        }
    )
    report = preview_spec(public)
    assert not [r for r in report.resources if r.type == SERVICE and r.inputs["metadata"]["name"] == "gateway-private"]


@pytest.mark.parametrize(
    ("annotations", "ports", "allowed"),
    [
        ({PRIVATE_LINK_BACKEND_ANNOTATION: "true"}, [{"port": 443, "nodePort": 30443}], True),
        ({PRIVATE_LINK_BACKEND_ANNOTATION: "true"}, [{"port": 443}], False),  # an unpinned, random node port
        ({}, [{"port": 443, "nodePort": 30443}], False),  # not the private-link backend
    ],
)
def test_policy_allows_only_the_marked_pinned_node_port(
    annotations: dict[str, str], ports: list[dict[str, int]], allowed: bool
) -> None:
    view = ResourceView(
        SERVICE,
        "acme-x",
        "urn:x",
        {"metadata": {"name": "x", "annotations": annotations}, "spec": {"type": "NodePort", "ports": ports}},
    )
    verdict = list(service_open_ingress(view, PolicyContext("acme", True, ())))
    assert (not verdict) is allowed
