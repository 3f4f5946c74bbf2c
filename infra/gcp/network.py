"""The tenant's own VPC: one private regional subnet (GCP subnets span every zone of the region) with
secondary ranges for pods and services, flow logs, Cloud NAT for egress, and the private services access
range that Cloud SQL and Memorystore take their private addresses from. Nothing here has a public address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi_gcp as gcp

from infra.gcp.project import GcpContext

# Blocks carved from the tenant's network_cidr, as prefix-length offsets from it (a /16 gives pods a /17).
_PODS, _NODES, _SERVICES, _PRIVATE_SERVICES, _PRIVATE_SERVICE_CONNECT = 1, 3, 3, 4, 6
CONTROL_PLANE_PREFIX = 28  # GKE requires exactly a /28 for the control plane's private range


@dataclass(frozen=True)
class NetworkPlan:
    """Non-overlapping blocks of the tenant's network_cidr, one per use."""

    network: ipaddress.IPv4Network
    pods: ipaddress.IPv4Network
    nodes: ipaddress.IPv4Network
    services: ipaddress.IPv4Network
    private_services: ipaddress.IPv4Network  # private services access: Cloud SQL, Memorystore
    private_service_connect: ipaddress.IPv4Network  # NAT subnet of the PSC service attachment
    control_plane: ipaddress.IPv4Network


def _carve(network: ipaddress.IPv4Network, prefixes: list[int]) -> list[ipaddress.IPv4Network]:
    """Consecutive blocks of the given prefix lengths, largest first so every block stays aligned."""
    order = sorted(range(len(prefixes)), key=lambda i: prefixes[i])
    blocks: dict[int, ipaddress.IPv4Network] = {}
    cursor = int(network.network_address)
    for i in order:
        if not network.prefixlen <= prefixes[i] <= 32:
            raise ValueError(f"a /{prefixes[i]} block cannot be carved from {network}")
        block = ipaddress.IPv4Network((cursor, prefixes[i]))
        if not block.subnet_of(network):
            raise ValueError(f"{network} is too small for the tenant's subnets")
        blocks[i] = block
        cursor += block.num_addresses
    return [blocks[i] for i in range(len(prefixes))]


def plan_network(network: ipaddress.IPv4Network) -> NetworkPlan:
    p = network.prefixlen
    if p > CONTROL_PLANE_PREFIX - _PRIVATE_SERVICE_CONNECT:
        raise ValueError(f"network_cidr {network} is too small: GCP tenants need at least a /22")
    pods, nodes, services, private_services, psc, control_plane = _carve(
        network,
        [
            p + _PODS,
            p + _NODES,
            p + _SERVICES,
            p + _PRIVATE_SERVICES,
            p + _PRIVATE_SERVICE_CONNECT,
            CONTROL_PLANE_PREFIX,
        ],
    )
    return NetworkPlan(network, pods, nodes, services, private_services, psc, control_plane)


@dataclass(frozen=True)
class Network:
    plan: NetworkPlan
    vpc: gcp.compute.Network
    subnet: gcp.compute.Subnetwork
    pods_range: str
    services_range: str
    private_services_range: gcp.compute.GlobalAddress
    private_services: gcp.servicenetworking.Connection  # Cloud SQL and Memorystore depend on it


def build_network(project: GcpContext) -> Network:
    ctx = project.ctx
    plan = plan_network(ctx.spec.network_cidr)
    vpc = gcp.compute.Network(
        ctx.name("vpc"),
        name=ctx.name("vpc"),
        project=project.project,
        auto_create_subnetworks=False,
        routing_mode="REGIONAL",
        description=f"Enclave tenant {ctx.spec.name}",
        opts=project.opts(),
    )
    pods_range, services_range = ctx.name("pods"), ctx.name("services")
    subnet = gcp.compute.Subnetwork(
        ctx.name("nodes"),
        name=ctx.name("nodes"),
        project=project.project,
        region=project.region,
        network=vpc.id,
        ip_cidr_range=str(plan.nodes),
        private_ip_google_access=True,
        secondary_ip_ranges=[
            gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=pods_range, ip_cidr_range=str(plan.pods)),
            gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=services_range, ip_cidr_range=str(plan.services)),
        ],
        log_config=gcp.compute.SubnetworkLogConfigArgs(
            aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
        ),
        opts=project.opts(),
    )
    _build_nat(project, vpc, subnet)
    private_services_range = gcp.compute.GlobalAddress(
        ctx.name("private-services"),
        name=ctx.name("private-services"),
        project=project.project,
        network=vpc.id,
        purpose="VPC_PEERING",
        address_type="INTERNAL",
        address=str(plan.private_services.network_address),
        prefix_length=plan.private_services.prefixlen,
        labels=project.labels,
        opts=project.opts(),
    )
    private_services = gcp.servicenetworking.Connection(
        ctx.name("private-services"),
        network=vpc.id,
        service="servicenetworking.googleapis.com",
        reserved_peering_ranges=[private_services_range.name],
        opts=project.opts(),
    )
    return Network(plan, vpc, subnet, pods_range, services_range, private_services_range, private_services)


def _build_nat(project: GcpContext, vpc: gcp.compute.Network, subnet: gcp.compute.Subnetwork) -> None:
    """Egress for the private nodes only; NAT never accepts unsolicited inbound connections."""
    ctx = project.ctx
    router = gcp.compute.Router(
        ctx.name("router"),
        name=ctx.name("router"),
        project=project.project,
        region=project.region,
        network=vpc.id,
        opts=project.opts(),
    )
    gcp.compute.RouterNat(
        ctx.name("nat"),
        name=ctx.name("nat"),
        project=project.project,
        region=project.region,
        router=router.name,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
        subnetworks=[gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])],
        log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
        opts=project.opts(),
    )


def private_cidrs(plan: NetworkPlan) -> tuple[str, ...]:
    """Where the database and cache live: the private services access range."""
    return (str(plan.private_services),)
