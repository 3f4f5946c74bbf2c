"""The Azure module's pure functions: address planning, naming, parsing, annotations, kubeconfig."""

from __future__ import annotations

import base64
import ipaddress
import json

import pytest
from azure_harness import CONSUMER, PEER_SUBSCRIPTION, PEER_VNET

from infra.azure.cache import managed_redis_sku
from infra.azure.cluster import cluster_ranges
from infra.azure.common import global_name, subscription_of
from infra.azure.connectivity import ingress_rules, load_balancer_annotations, peer_subscription
from infra.azure.database import high_availability, sku_tier
from infra.azure.keys import parse_key_id
from infra.azure.kubeconfig import AKS_AAD_SERVER_ID, ClusterAccess, read_cluster_access, render_kubeconfig
from infra.azure.network import plan_subnets
from infra.azure.storage import firewall_ip_rules
from infra.sizes import PRESETS
from infra.spec import Connectivity, Peering

NET = ipaddress.IPv4Network


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "10.30.0.0/18", "172.16.16.0/20"])
def test_subnets_are_disjoint_and_inside_the_tenant_network(cidr: str) -> None:
    network = NET(cidr)
    plan = plan_subnets(network)
    subnets = [plan.nodes, plan.api_server, plan.database, plan.endpoints]
    assert all(s.subnet_of(network) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    assert plan.nodes.num_addresses == network.num_addresses // 2
    assert plan.private_cidrs == (str(plan.database), str(plan.endpoints))


def test_subnet_plan_refuses_a_network_too_small() -> None:
    with pytest.raises(ValueError, match="/20 or larger"):
        plan_subnets(NET("10.0.0.0/21"))


def test_global_names_fit_and_stay_distinct() -> None:
    long = "a" * 20
    assert len(global_name(long, "logs", max_length=24, hyphens=False)) <= 24
    assert global_name(long, "logs", max_length=24, hyphens=False).isalnum()
    assert len(global_name(long, "kv", max_length=24)) <= 24
    assert global_name("acme", "kv", max_length=24).startswith("acme-kv-")
    # hyphens removed or truncation must not make two tenants share a name
    assert global_name("a-bc", "data", max_length=24, hyphens=False) != global_name(
        "ab-c", "data", max_length=24, hyphens=False
    )
    assert global_name(long + "x", "kv", max_length=24) != global_name(long + "y", "kv", max_length=24)


def test_subscription_is_read_from_a_resource_id() -> None:
    assert subscription_of("/subscriptions/abc/resourceGroups/rg") == "abc"
    with pytest.raises(ValueError, match="not an Azure resource id"):
        subscription_of("rg-id")


def test_key_id_is_parsed_and_requires_a_version() -> None:
    ref = parse_key_id("https://cust-kv.vault.azure.net/keys/enclave/" + "a" * 32)
    assert ref.vault_uri == "https://cust-kv.vault.azure.net"
    assert ref.versionless_id == "https://cust-kv.vault.azure.net/keys/enclave"
    assert ref.versioned_id.endswith("/" + "a" * 32)
    for bad in ("https://cust-kv.vault.azure.net/keys/enclave", "arn:aws:kms:eu-west-1:1:key/x", "http://x/keys/a/b"):
        with pytest.raises(ValueError, match="customer_managed_key must be a Key Vault key id"):
            parse_key_id(bad)


def test_cluster_ranges_avoid_the_tenant_and_peer_networks() -> None:
    default = cluster_ranges([NET("10.20.0.0/16")])
    assert (default.pod_cidr, default.service_cidr, default.dns_service_ip) == (
        "10.244.0.0/16",
        "10.0.0.0/16",
        "10.0.0.10",
    )
    moved = cluster_ranges([NET("10.244.0.0/16"), NET("10.0.0.0/8")])
    assert not NET(moved.pod_cidr).overlaps(NET("10.0.0.0/8"))
    assert not NET(moved.service_cidr).overlaps(NET(moved.pod_cidr))
    with pytest.raises(ValueError, match="no free pod/service range"):
        cluster_ranges([NET("10.0.0.0/8"), NET("172.16.0.0/12"), NET("192.168.0.0/16")])


def test_every_azure_preset_maps_to_mysql_and_redis_skus() -> None:
    for preset in PRESETS["azure"].values():
        tier = sku_tier(preset.db_instance_class)
        ha = high_availability(enabled=preset.db_high_availability, tier=tier, zones=("1", "2", "3"))
        assert (ha["mode"] == "ZoneRedundant") is preset.db_high_availability
        managed_redis_sku(preset.cache_node_type)
    with pytest.raises(ValueError, match="unknown MySQL"):
        sku_tier("db.t4g.medium")


def test_ha_needs_a_non_burstable_sku_and_degrades_to_same_zone_without_zones() -> None:
    with pytest.raises(ValueError, match="not Burstable"):
        high_availability(enabled=True, tier=sku_tier("Standard_B2ms"), zones=("1", "2"))
    # fewer than two zones (a region without availability zones): a same-zone standby, no zone named
    for zones in [(), ("1",)]:
        assert high_availability(enabled=True, tier=sku_tier("Standard_D4ds_v5"), zones=zones) == {"mode": "SameZone"}
    assert (
        high_availability(enabled=True, tier=sku_tier("Standard_E8ds_v5"), zones=("1", "2"))[
            "standby_availability_zone"
        ]
        == "2"
    )


def test_cache_skus_are_azure_managed_redis_only() -> None:
    """Azure Cache for Redis tiers (and the Enterprise SKUs retired with them) are refused by name."""
    assert managed_redis_sku("Balanced_B1") == "Balanced_B1"
    assert managed_redis_sku("MemoryOptimized_M10") == "MemoryOptimized_M10"
    for retired in ("Standard_C1", "Premium_P2", "Basic_C0", "Enterprise_E10", "cache.t4g.small"):
        with pytest.raises(ValueError, match="not an Azure Managed Redis SKU"):
            managed_redis_sku(retired)
    with pytest.raises(ValueError, match="the provider knows"):
        managed_redis_sku("Balanced_B7")


def test_storage_firewall_rules_list_small_ranges_as_addresses() -> None:
    rules = firewall_ip_rules([NET("203.0.113.0/24"), NET("198.51.100.6/31"), NET("192.0.2.9/32")])
    assert [r["i_p_address_or_range"] for r in rules] == [
        "203.0.113.0/24",
        "198.51.100.6",
        "198.51.100.7",
        "192.0.2.9",
    ]
    assert all(r["action"] == "Allow" for r in rules)


def test_ingress_rule_is_https_only_from_the_allow_list_or_internet() -> None:
    (open_rule,) = ingress_rules(Connectivity())
    assert (open_rule["destination_port_range"], open_rule["source_address_prefix"]) == ("443", "Internet")
    (listed,) = ingress_rules(Connectivity(allowed_cidrs=[NET("203.0.113.0/24")]))
    assert listed["source_address_prefixes"] == ["203.0.113.0/24"]
    assert "source_address_prefix" not in listed
    private_only = Connectivity(public_ingress=False, private_link=True, private_link_consumers=[CONSUMER])
    assert ingress_rules(private_only) == []


def test_load_balancer_annotations() -> None:
    tags = {"enclave-tenant": "acme", "managed-by": "enclave"}
    public = load_balancer_annotations(Connectivity(), tags=tags, pls_name="acme-pls", pls_subnet="acme-endpoints")
    assert public["service.beta.kubernetes.io/azure-load-balancer-internal"] == "false"
    assert public["service.beta.kubernetes.io/azure-pip-tags"] == "enclave-tenant=acme,managed-by=enclave"
    assert not any("azure-pls" in key for key in public)

    private = load_balancer_annotations(
        Connectivity(public_ingress=False, private_link=True, private_link_consumers=[CONSUMER]),
        tags=tags,
        pls_name="acme-pls",
        pls_subnet="acme-endpoints",
    )
    prefix = "service.beta.kubernetes.io/"
    assert private[f"{prefix}azure-load-balancer-internal"] == "true"
    assert private[f"{prefix}azure-pls-create"] == "true"
    assert private[f"{prefix}azure-pls-visibility"] == CONSUMER
    # never auto-approved: every connection request, the listed consumers' included, waits for the operator
    assert not any(key.endswith("azure-pls-auto-approval") for key in private)
    assert private[f"{prefix}azure-pls-ip-configuration-subnet"] == "acme-endpoints"


def test_private_link_needs_an_internal_gateway_and_subscription_consumers() -> None:
    both = Connectivity(private_link=True, private_link_consumers=[CONSUMER])
    with pytest.raises(ValueError, match=r"set connectivity\.public_ingress to false"):
        load_balancer_annotations(both, tags={}, pls_name="p", pls_subnet="s")
    not_a_subscription = Connectivity(public_ingress=False, private_link=True, private_link_consumers=["123456789012"])
    with pytest.raises(ValueError, match="subscription ids"):
        load_balancer_annotations(not_a_subscription, tags={}, pls_name="p", pls_subnet="s")


def test_peer_network_must_be_a_vnet_of_the_named_subscription() -> None:
    peer_cidr = NET("192.168.0.0/16")
    assert peer_subscription(Peering(peer_network=PEER_VNET, peer_owner=PEER_SUBSCRIPTION, peer_cidr=peer_cidr))
    with pytest.raises(ValueError, match="must be a VNet resource id"):
        peer_subscription(Peering(peer_network="vpc-123", peer_owner=PEER_SUBSCRIPTION, peer_cidr=peer_cidr))
    with pytest.raises(ValueError, match="is not the subscription of peer_network"):
        peer_subscription(Peering(peer_network=PEER_VNET, peer_owner=CONSUMER, peer_cidr=peer_cidr))


def _aks_kubeconfig(server: str, ca: str) -> str:
    text = (
        "apiVersion: v1\nclusters:\n- name: c\n  cluster:\n"
        f"    server: {server}\n    certificate-authority-data: {ca}\n"
    )
    return base64.b64encode(text.encode()).decode()


def test_kubeconfig_carries_the_cluster_ca_and_no_credential() -> None:
    access = read_cluster_access(_aks_kubeconfig("https://aks.privatelink.westeurope.azmk8s.io:443", "Q0E="))
    assert access == ClusterAccess("https://aks.privatelink.westeurope.azmk8s.io:443", "Q0E=")
    config = json.loads(render_kubeconfig("acme-aks", access))
    assert config["clusters"][0]["cluster"] == {
        "server": "https://aks.privatelink.westeurope.azmk8s.io:443",
        "certificate-authority-data": "Q0E=",
    }
    user = config["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client certificate, no password
    assert user["exec"]["command"] == "kubelogin"
    assert AKS_AAD_SERVER_ID in user["exec"]["args"]
    assert config["current-context"] == "acme-aks"


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("not base64!", "without a usable cluster entry"),
        (base64.b64encode(b"clusters: []").decode(), "without a usable cluster entry"),
        (_aks_kubeconfig("http://plain:80", "Q0E="), "not an https:// URL"),
        (_aks_kubeconfig("https://aks:443", "''"), "without certificate-authority-data"),
    ],
)
def test_a_broken_aks_kubeconfig_is_refused(encoded: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_cluster_access(encoded)
