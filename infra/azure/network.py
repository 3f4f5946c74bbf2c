"""The tenant's own VNet: private subnets, NAT egress, network security groups, private endpoints, flow logs.

Azure subnets are regional (they span every zone), so zone spread comes from the zonal resources placed in
them (node pools, MySQL HA standby, Redis Premium). Nothing in these subnets gets a public address: the only
public IPs are the NAT gateway's (egress only) and the gateway's load balancer (created by AKS).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from infra.azure.common import AzureContext
from infra.cloud import Part, PartComponent

FLOW_LOG_RETENTION_DAYS = 365
# Azure creates one network watcher per subscription and region, in this group; flow logs must live there.
NETWORK_WATCHER_GROUP = "NetworkWatcherRG"


@dataclass(frozen=True)
class SubnetPlan:
    """Address ranges carved from the tenant's network_cidr: half for the nodes, the rest in equal blocks."""

    nodes: ipaddress.IPv4Network
    api_server: ipaddress.IPv4Network
    database: ipaddress.IPv4Network
    endpoints: ipaddress.IPv4Network

    @property
    def private_cidrs(self) -> tuple[str, ...]:
        """Where the gateway's data lives: the MySQL subnet and the private-endpoint subnet (Redis)."""
        return (str(self.database), str(self.endpoints))


def plan_subnets(cidr: ipaddress.IPv4Network) -> SubnetPlan:
    if cidr.prefixlen > 20:
        raise ValueError(f"network_cidr {cidr} is too small: Azure tenants need a /20 or larger")
    nodes, rest = cidr.subnets(prefixlen_diff=1)
    api_server, database, endpoints, _spare = rest.subnets(prefixlen_diff=2)
    return SubnetPlan(nodes=nodes, api_server=api_server, database=database, endpoints=endpoints)


@dataclass(frozen=True)
class PrivateLinkSite:
    """Where a part puts a private endpoint: the endpoints subnet, and the VNet its private DNS zones link to."""

    vnet_id: pulumi.Input[str]
    endpoints_subnet_id: pulumi.Input[str]


@dataclass(frozen=True)
class NetworkArgs:
    cidr: ipaddress.IPv4Network
    ingress_rules: Sequence[network.SecurityRuleArgsDict]  # the node subnet's inbound rules (HTTPS to the gateway)


def _deny_internet_inbound(priority: int) -> network.SecurityRuleArgsDict:
    return {
        "name": "deny-internet-inbound",
        "priority": priority,
        "direction": network.SecurityRuleDirection.INBOUND,
        "access": network.SecurityRuleAccess.DENY,
        "protocol": network.SecurityRuleProtocol.ASTERISK,
        "source_address_prefix": "Internet",
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": "*",
    }


def _security_group(
    scope: AzureContext, part: str, rules: list[network.SecurityRuleArgsDict]
) -> network.NetworkSecurityGroup:
    ctx = scope.ctx
    return network.NetworkSecurityGroup(
        ctx.name(part),
        network_security_group_name=ctx.name(part),
        resource_group_name=scope.group_name,
        location=scope.location,
        security_rules=[*rules, _deny_internet_inbound(4096)],
        tags=ctx.tags,
        opts=scope.opts(),
    )


def _nat_gateway(scope: AzureContext) -> network.NatGateway:
    ctx = scope.ctx
    egress_ip = network.PublicIPAddress(
        ctx.name("nat-ip"),
        public_ip_address_name=ctx.name("nat-ip"),
        resource_group_name=scope.group_name,
        location=scope.location,
        sku={"name": network.PublicIPAddressSkuName.STANDARD},
        public_ip_allocation_method=network.IPAllocationMethod.STATIC,
        tags=ctx.tags,
        opts=scope.opts(),
    )
    return network.NatGateway(
        ctx.name("nat"),
        nat_gateway_name=ctx.name("nat"),
        resource_group_name=scope.group_name,
        location=scope.location,
        sku={"name": network.NatGatewaySkuName.STANDARD},
        public_ip_addresses=[{"id": egress_ip.id}],
        idle_timeout_in_minutes=10,
        tags=ctx.tags,
        opts=scope.opts(),
    )


class TenantNetwork(PartComponent):
    part = Part.NETWORK
    plan: SubnetPlan
    vnet: network.VirtualNetwork
    nodes_subnet: network.Subnet
    api_server_subnet: network.Subnet
    database_subnet: network.Subnet
    endpoints_subnet: network.Subnet
    endpoints_subnet_name: str  # where the Private Link service (created by AKS) takes its NAT addresses

    def __init__(self, scope: AzureContext, args: NetworkArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        self.plan = plan = plan_subnets(args.cidr)
        self.vnet = vnet = network.VirtualNetwork(
            ctx.name("vnet"),
            virtual_network_name=ctx.name("vnet"),
            resource_group_name=scope.group_name,
            location=scope.location,
            address_space={"address_prefixes": [str(args.cidr)]},
            tags=ctx.tags,
            opts=scope.opts(ignore_changes=["subnets"]),  # subnets are their own resources below
        )
        nat = _nat_gateway(scope)
        nodes_nsg = _security_group(scope, "nodes-nsg", list(args.ingress_rules))
        data_nsg = _security_group(scope, "data-nsg", [])

        # Azure refuses concurrent changes to one VNet's subnets, so each waits for the previous one.
        previous: list[pulumi.Resource] = []

        def subnet(
            part: str,
            cidr: ipaddress.IPv4Network,
            *,
            security_group: network.NetworkSecurityGroup | None = None,
            delegated_to: str | None = None,
            nat_gateway: network.NatGateway | None = None,
            endpoints: bool = False,
        ) -> network.Subnet:
            created = network.Subnet(
                ctx.name(part),
                subnet_name=ctx.name(part),
                resource_group_name=scope.group_name,
                virtual_network_name=vnet.name,
                address_prefix=str(cidr),
                default_outbound_access=False,
                network_security_group={"id": security_group.id} if security_group else None,
                nat_gateway={"id": nat_gateway.id} if nat_gateway else None,
                delegations=[{"name": part, "service_name": delegated_to}] if delegated_to else None,
                # Private endpoints obey the subnet's NSG; the Private Link service takes its NAT addresses here.
                private_endpoint_network_policies="Enabled" if endpoints else None,
                private_link_service_network_policies="Disabled" if endpoints else None,
                opts=scope.opts(depends_on=list(previous)),
            )
            previous[:] = [created]
            return created

        self.nodes_subnet = subnet("nodes", plan.nodes, security_group=nodes_nsg, nat_gateway=nat)
        self.api_server_subnet = subnet(
            "apiserver", plan.api_server, delegated_to="Microsoft.ContainerService/managedClusters"
        )
        self.database_subnet = subnet(
            "database", plan.database, security_group=data_nsg, delegated_to="Microsoft.DBforMySQL/flexibleServers"
        )
        self.endpoints_subnet = subnet("endpoints", plan.endpoints, security_group=data_nsg, endpoints=True)
        self.endpoints_subnet_name = ctx.name("endpoints")
        self.publish(vnetId=vnet.id, nodesSubnetId=self.nodes_subnet.id, endpointsSubnetId=self.endpoints_subnet.id)

    @property
    def private_link_site(self) -> PrivateLinkSite:
        return PrivateLinkSite(vnet_id=self.vnet.id, endpoints_subnet_id=self.endpoints_subnet.id)


@dataclass(frozen=True)
class PrivateDns:
    """A private DNS zone and its link to the tenant's VNet: the zone resolves nothing until the link exists."""

    zone: privatedns.PrivateZone
    link: privatedns.VirtualNetworkLink


def private_dns_zone(scope: AzureContext, vnet_id: pulumi.Input[str], part: str, zone: str) -> PrivateDns:
    """A private DNS zone resolvable only from the tenant's VNet (through the link)."""
    ctx = scope.ctx
    private_zone = privatedns.PrivateZone(
        ctx.name(part),
        private_zone_name=zone,
        resource_group_name=scope.group_name,
        location="global",
        tags=ctx.tags,
        opts=scope.opts(),
    )
    link = privatedns.VirtualNetworkLink(
        ctx.name(f"{part}-link"),
        virtual_network_link_name=ctx.name(f"{part}-link"),
        private_zone_name=private_zone.name,
        resource_group_name=scope.group_name,
        location="global",
        virtual_network={"id": vnet_id},
        registration_enabled=False,
        tags=ctx.tags,
        opts=scope.opts(),
    )
    return PrivateDns(zone=private_zone, link=link)


def private_endpoint(
    scope: AzureContext, site: PrivateLinkSite, part: str, *, target_id: pulumi.Input[str], group_id: str, zone: str
) -> network.PrivateEndpoint:
    """Reach a PaaS resource (Key Vault, Redis) through a private IP in the endpoints subnet, with its
    privatelink DNS zone so its usual host name resolves to that IP inside the VNet."""
    ctx = scope.ctx
    endpoint = network.PrivateEndpoint(
        ctx.name(part),
        private_endpoint_name=ctx.name(part),
        resource_group_name=scope.group_name,
        location=scope.location,
        subnet={"id": site.endpoints_subnet_id},
        private_link_service_connections=[
            {"name": ctx.name(part), "private_link_service_id": target_id, "group_ids": [group_id]}
        ],
        tags=ctx.tags,
        opts=scope.opts(),
    )
    dns = private_dns_zone(scope, site.vnet_id, f"{part}-dns", zone)
    network.PrivateDnsZoneGroup(
        ctx.name(f"{part}-dns-group"),
        private_dns_zone_group_name="default",
        private_endpoint_name=endpoint.name,
        resource_group_name=scope.group_name,
        private_dns_zone_configs=[{"name": zone.replace(".", "-"), "private_dns_zone_id": dns.zone.id}],
        opts=scope.opts(),
    )
    return endpoint


def flow_log(scope: AzureContext, vnet_id: pulumi.Input[str], storage_account_id: pulumi.Input[str]) -> network.FlowLog:
    """VNet flow logs (every subnet, every NIC) into the tenant's retention-locked log archive."""
    ctx = scope.ctx
    return network.FlowLog(
        ctx.name("vnet-flow-log"),
        flow_log_name=ctx.name("vnet-flow-log"),
        network_watcher_name=f"NetworkWatcher_{scope.location}",
        resource_group_name=NETWORK_WATCHER_GROUP,
        location=scope.location,
        target_resource_id=vnet_id,
        storage_id=storage_account_id,
        enabled=True,
        format={"type": network.FlowLogFormatType.JSON, "version": 2},
        retention_policy={"enabled": True, "days": FLOW_LOG_RETENTION_DAYS},
        tags=ctx.tags,
        opts=scope.opts(),
    )
