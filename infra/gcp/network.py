"""The tenant's own VPC: one private regional subnet (GCP subnets span every zone of the region) with
secondary ranges for pods and services, flow logs, Cloud NAT for egress, and the private services access
range that Cloud SQL and Memorystore take their private addresses from. Nothing here has a public address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
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


# Google APIs on a VIP the tenant's VPC reaches privately ("Configure Private Google Access", DNS
# configuration for private.googleapis.com: a private `googleapis.com.` zone whose `*.googleapis.com` CNAME
# points at `private.googleapis.com`, which resolves to 199.36.153.8/30,
# https://cloud.google.com/vpc/docs/configure-private-google-access#config-domain). The gateway's calls
# (iamcredentials signBlob, storage) then go to these four addresses only, so its NetworkPolicy admits 443 to
# them and not to any host; the subnet's Private Google Access carries them without a public address.
PRIVATE_GOOGLE_APIS_CIDR = "199.36.153.8/30"
PRIVATE_GOOGLE_APIS_DOMAIN = "private.googleapis.com."
GOOGLE_APIS_ZONE = "googleapis.com."
DNS_TTL = 300


@dataclass(frozen=True)
class NetworkArgs:
    cidr: ipaddress.IPv4Network
    region: str


class Network(PartComponent):
    part = Part.NETWORK
    plan: NetworkPlan
    vpc: gcp.compute.Network
    subnet: gcp.compute.Subnetwork
    pods_range: str
    services_range: str
    private_services_range: gcp.compute.GlobalAddress
    private_services: gcp.servicenetworking.Connection  # Cloud SQL and Memorystore depend on it
    google_apis_cidr: str

    def __init__(self, scope: GcpContext, args: NetworkArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        self.plan = plan = plan_network(args.cidr)
        self.vpc = vpc = gcp.compute.Network(
            ctx.name("vpc"),
            name=ctx.name("vpc"),
            project=project.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"Enclave tenant {project.tenant}",
            opts=project.opts(),
        )
        self.pods_range, self.services_range = ctx.name("pods"), ctx.name("services")
        self.subnet = subnet = gcp.compute.Subnetwork(
            ctx.name("nodes"),
            name=ctx.name("nodes"),
            project=project.project,
            region=args.region,
            network=vpc.id,
            ip_cidr_range=str(plan.nodes),
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=self.pods_range, ip_cidr_range=str(plan.pods)),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=self.services_range, ip_cidr_range=str(plan.services)
                ),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
            opts=project.opts(),
        )
        _build_nat(project, args.region, vpc, subnet)
        self.private_services_range = gcp.compute.GlobalAddress(
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
        self.private_services = gcp.servicenetworking.Connection(
            ctx.name("private-services"),
            network=vpc.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[self.private_services_range.name],
            opts=project.opts(),
        )
        self.google_apis_cidr = _private_google_apis(project, vpc)
        self.publish(network=vpc.id, subnetwork=subnet.id, googleApisCidr=self.google_apis_cidr)


def _private_google_apis(project: GcpContext, vpc: gcp.compute.Network) -> str:
    """The private `googleapis.com` zone: every Google API name in the VPC resolves to private.googleapis.com."""
    ctx = project.ctx
    zone = gcp.dns.ManagedZone(
        ctx.name("google-apis"),
        name=ctx.name("google-apis"),
        project=project.project,
        dns_name=GOOGLE_APIS_ZONE,
        description="Google APIs through private.googleapis.com (Private Google Access)",
        visibility="private",
        private_visibility_config=gcp.dns.ManagedZonePrivateVisibilityConfigArgs(
            networks=[gcp.dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=vpc.id)]
        ),
        labels=project.labels,
        opts=project.opts(),
    )
    vip = ipaddress.IPv4Network(PRIVATE_GOOGLE_APIS_CIDR)
    gcp.dns.RecordSet(
        ctx.name("google-apis-vip"),
        project=project.project,
        managed_zone=zone.name,
        name=PRIVATE_GOOGLE_APIS_DOMAIN,
        type="A",
        ttl=DNS_TTL,
        rrdatas=[str(address) for address in vip],
        opts=project.opts(),
    )
    gcp.dns.RecordSet(
        ctx.name("google-apis-names"),
        project=project.project,
        managed_zone=zone.name,
        name=f"*.{GOOGLE_APIS_ZONE}",
        type="CNAME",
        ttl=DNS_TTL,
        rrdatas=[PRIVATE_GOOGLE_APIS_DOMAIN],
        opts=project.opts(),
    )
    return PRIVATE_GOOGLE_APIS_CIDR


def _build_nat(project: GcpContext, region: str, vpc: gcp.compute.Network, subnet: gcp.compute.Subnetwork) -> None:
    """Egress for the private nodes only; NAT never accepts unsolicited inbound connections."""
    ctx = project.ctx
    router = gcp.compute.Router(
        ctx.name("router"),
        name=ctx.name("router"),
        project=project.project,
        region=region,
        network=vpc.id,
        opts=project.opts(),
    )
    gcp.compute.RouterNat(
        ctx.name("nat"),
        name=ctx.name("nat"),
        project=project.project,
        region=region,
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
