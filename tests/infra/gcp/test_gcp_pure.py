"""Pure helpers of the GCP module: address planning, kubeconfig, key and name validation."""

from __future__ import annotations

import ipaddress
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.gcp.cluster import render_kubeconfig
from infra.gcp.connectivity import load_balancer_annotations, peer_network_link
from infra.gcp.keys import check_customer_key
from infra.gcp.network import NetworkPlan, plan_network
from infra.gcp.project import ProjectClaimError, ServiceAgent, check_project_claim, service_agent_member
from infra.gcp.server_ca import server_ca_bundle
from infra.spec import Peering


def _blocks(plan: NetworkPlan) -> list[ipaddress.IPv4Network]:
    return [
        plan.pods,
        plan.nodes,
        plan.services,
        plan.private_services,
        plan.private_service_connect,
        plan.control_plane,
    ]


@given(base=st.integers(min_value=0, max_value=(1 << 16) - 1), prefix=st.integers(min_value=16, max_value=20))
def test_plan_carves_disjoint_blocks_inside_the_tenant_network(base: int, prefix: int) -> None:
    network = ipaddress.IPv4Network((int(ipaddress.IPv4Address("10.0.0.0")) + (base << 8), prefix), strict=False)
    plan = plan_network(network)
    blocks = _blocks(plan)
    assert all(block.subnet_of(network) for block in blocks)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(blocks, 2))
    assert plan.control_plane.prefixlen == 28
    assert plan.private_services.prefixlen <= 24  # private services access needs at least a /24


def test_plan_of_a_slash_sixteen() -> None:
    plan = plan_network(ipaddress.IPv4Network("10.20.0.0/16"))
    assert [str(b) for b in _blocks(plan)] == [
        "10.20.0.0/17",
        "10.20.128.0/19",
        "10.20.160.0/19",
        "10.20.192.0/20",
        "10.20.208.0/22",
        "10.20.212.0/28",
    ]


def test_plan_refuses_a_network_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_network(ipaddress.IPv4Network("10.0.0.0/24"))


def test_kubeconfig_has_endpoint_ca_and_exec_plugin_but_no_credentials() -> None:
    config = json.loads(render_kubeconfig("acme-gke", "10.0.0.2", "Q0E="))
    assert config["clusters"][0]["cluster"] == {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}
    user = config["users"][0]["user"]
    assert set(user) == {"exec"} and user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert config["current-context"] == "acme-gke"


@pytest.mark.parametrize(("endpoint", "ca"), [("", "Q0E="), ("https://10.0.0.2", "Q0E="), ("10.0.0.2", "")])
def test_kubeconfig_refuses_missing_or_malformed_parts(endpoint: str, ca: str) -> None:
    with pytest.raises(ValueError, match=r"endpoint|certificate authority"):
        render_kubeconfig("acme-gke", endpoint, ca)


def test_customer_key_must_be_a_full_key_name_in_region() -> None:
    key = "projects/customer-kms-1/locations/europe-west1/keyRings/r/cryptoKeys/k"
    assert check_customer_key(key, "europe-west1") == key
    with pytest.raises(ValueError, match="Cloud KMS key name"):
        check_customer_key("projects/customer-kms-1/keyRings/r", "europe-west1")
    with pytest.raises(ValueError, match="tenant runs in 'us-east1'"):
        check_customer_key(key, "us-east1")


def test_service_agents_are_named_from_the_project_number() -> None:
    assert (
        service_agent_member("987654321", ServiceAgent.GKE)
        == "serviceAccount:service-987654321@container-engine-robot.iam.gserviceaccount.com"
    )
    with pytest.raises(ValueError, match="project number"):
        service_agent_member("acme-prod", ServiceAgent.GKE)


def test_a_project_is_claimed_only_by_the_tenant_its_label_names() -> None:
    assert check_project_claim("acme-prod", "acme", {"enclave-tenant": "acme", "team": "x"}, "987654321") == "987654321"
    with pytest.raises(ProjectClaimError, match=r"belongs to tenant 'acme-corp', not 'acme'.*own project"):
        check_project_claim("acme-prod", "acme", {"enclave-tenant": "acme-corp"}, "987654321")
    with pytest.raises(ProjectClaimError, match=r"no enclave-tenant label.*--update-labels=enclave-tenant=acme"):
        check_project_claim("acme-prod", "acme", {}, "987654321")
    with pytest.raises(ProjectClaimError, match="no enclave-tenant label"):
        check_project_claim("acme-prod", "acme", None, "987654321")
    with pytest.raises(ProjectClaimError, match="no project number"):
        check_project_claim("acme-prod", "acme", {"enclave-tenant": "acme"}, None)


PEM = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----"


def test_server_ca_bundle_keeps_every_listed_ca_and_refuses_none() -> None:
    assert server_ca_bundle([PEM, None, f"{PEM}\n"], "Memorystore") == f"{PEM}\n{PEM}\n"
    with pytest.raises(ValueError, match="Cloud SQL instance returned no server CA"):
        server_ca_bundle([], "Cloud SQL")
    with pytest.raises(ValueError, match="no server CA"):
        server_ca_bundle([None, ""], "Cloud SQL")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        server_ca_bundle(["not a certificate"], "Memorystore")


def test_peer_network_link_from_name_or_self_link() -> None:
    by_name = Peering(peer_network="corp", peer_owner="customer-1", peer_cidr=ipaddress.IPv4Network("192.168.0.0/20"))
    assert peer_network_link(by_name) == "projects/customer-1/global/networks/corp"
    link = "https://www.googleapis.com/compute/v1/projects/customer-1/global/networks/corp"
    by_link = by_name.model_copy(update={"peer_network": link})
    assert peer_network_link(by_link) == link
    with pytest.raises(ValueError, match="peer_owner"):
        peer_network_link(by_name.model_copy(update={"peer_network": "projects/other-1/global/networks/corp"}))
    with pytest.raises(ValueError, match="VPC name or a self link"):
        peer_network_link(by_name.model_copy(update={"peer_network": "Corp Net!"}))


def test_load_balancer_is_internal_only_without_public_ingress() -> None:
    assert "cloud.google.com/l4-rbs" in load_balancer_annotations(public_ingress=True)
    assert load_balancer_annotations(public_ingress=False) == {"networking.gke.io/load-balancer-type": "Internal"}
