"""How clients reach the gateway: the HTTPS-only ingress rule, the Private Link service, VNet peering.

The gateway's load balancer and its Private Link service are created by AKS's cloud controller from the
gateway Service's annotations (the load balancer is not known before the Service exists), so the Private Link
settings travel as annotations: visible only to the listed consumer subscriptions, and never auto-approved —
every connection request, the listed consumers' included, waits for the operator's manual approval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from infra.azure.common import AzureContext
from infra.cloud import Part, PartComponent
from infra.spec import Connectivity, Peering

_ANNOTATION = "service.beta.kubernetes.io/"
_VNET_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[0-9a-fA-F-]{36})/resourceGroups/[^/]+"
    r"/providers/Microsoft\.Network/virtualNetworks/[^/]+$",
    re.IGNORECASE,
)
_SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def ingress_rules(connectivity: Connectivity) -> list[network.SecurityRuleArgsDict]:
    """Inbound rules for the node subnet: HTTPS (443) only, from the allow list when one is given, from the
    internet otherwise; nothing when the gateway is private-only (everything else falls to the deny rule)."""
    if not connectivity.public_ingress:
        return []
    rule: network.SecurityRuleArgsDict = {
        "name": "allow-https-inbound",
        "priority": 100,
        "direction": network.SecurityRuleDirection.INBOUND,
        "access": network.SecurityRuleAccess.ALLOW,
        "protocol": network.SecurityRuleProtocol.TCP,
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": "443",
    }
    if connectivity.allowed_cidrs:
        rule["source_address_prefixes"] = [str(cidr) for cidr in connectivity.allowed_cidrs]
    else:
        rule["source_address_prefix"] = "Internet"
    return [rule]


def check_consumers(consumers: list[str]) -> list[str]:
    bad = [c for c in consumers if not _SUBSCRIPTION_ID.match(c)]
    if bad:
        raise ValueError(f"Azure private_link_consumers must be subscription ids (GUIDs); not: {', '.join(bad)}")
    return consumers


def load_balancer_annotations(
    connectivity: Connectivity, *, tags: Mapping[str, str], pls_name: str, pls_subnet: str
) -> dict[str, str]:
    """Annotations for the gateway's `LoadBalancer` Service.

    With private link, the Private Link service is visible to the consumer subscriptions only
    (`azure-pls-visibility`) and has no `azure-pls-auto-approval` annotation: that annotation lists subscriptions
    whose connections are approved without review, and without it every request waits for manual approval
    (cloud-provider-azure, "Azure Private Link Service Integration", PrivateLinkService annotations:
    https://cloud-provider-azure.sigs.k8s.io/topics/pls-integration/; "What is Azure Private Link service?",
    Control service exposure: https://learn.microsoft.com/azure/private-link/private-link-service-overview).
    """
    if connectivity.private_link and connectivity.public_ingress:
        raise ValueError(
            "on Azure the Private Link service fronts an internal load balancer, so the gateway cannot be both "
            "public and behind Private Link: set connectivity.public_ingress to false to use private_link"
        )
    if not connectivity.private_link:
        return {
            f"{_ANNOTATION}azure-load-balancer-internal": "false",
            f"{_ANNOTATION}azure-pip-tags": ",".join(f"{k}={v}" for k, v in sorted(tags.items())),
        }
    consumers = " ".join(check_consumers(connectivity.private_link_consumers))
    return {
        f"{_ANNOTATION}azure-load-balancer-internal": "true",
        f"{_ANNOTATION}azure-pls-create": "true",
        f"{_ANNOTATION}azure-pls-name": pls_name,
        f"{_ANNOTATION}azure-pls-ip-configuration-subnet": pls_subnet,
        f"{_ANNOTATION}azure-pls-visibility": consumers,
        f"{_ANNOTATION}azure-pls-proxy-protocol": "false",
    }


def peer_subscription(peering: Peering) -> str:
    """Check that peer_network is a VNet resource id in the subscription named by peer_owner."""
    match = _VNET_ID.match(peering.peer_network)
    if match is None:
        raise ValueError(
            "Azure peering.peer_network must be a VNet resource id: /subscriptions/<id>/resourceGroups/<group>"
            f"/providers/Microsoft.Network/virtualNetworks/<name>; got {peering.peer_network!r}"
        )
    if match.group("subscription").lower() != peering.peer_owner.lower():
        raise ValueError(
            f"peering.peer_owner {peering.peer_owner!r} is not the subscription of peer_network "
            f"({match.group('subscription')})"
        )
    return match.group("subscription")


@dataclass(frozen=True)
class ConnectivityArgs:
    connectivity: Connectivity  # the spec's connectivity: ingress, Private Link consumers, peering
    vnet_name: pulumi.Input[str]
    pls_subnet: str  # the subnet the Private Link service (created by AKS) takes its NAT addresses from


class TenantConnectivity(PartComponent):
    part = Part.CONNECTIVITY
    load_balancer_annotations: dict[str, str]
    private_link_service: pulumi.Output[str] | None
    peering: network.VirtualNetworkPeering | None

    def __init__(self, scope: AzureContext, args: ConnectivityArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        pls_name = ctx.name("pls")
        self.load_balancer_annotations = load_balancer_annotations(
            args.connectivity, tags=ctx.tags, pls_name=pls_name, pls_subnet=args.pls_subnet
        )
        self.peering = None
        if args.connectivity.peering is not None:
            peer = args.connectivity.peering
            peer_subscription(peer)
            # No transit either way: the peer reaches this VNet only, and this VNet reaches nothing through it.
            self.peering = network.VirtualNetworkPeering(
                ctx.name("peering"),
                virtual_network_peering_name=ctx.name("peering"),
                resource_group_name=scope.group_name,
                virtual_network_name=args.vnet_name,
                remote_virtual_network={"id": peer.peer_network},
                remote_address_space={"address_prefixes": [str(peer.peer_cidr)]},
                allow_virtual_network_access=True,
                allow_forwarded_traffic=False,
                allow_gateway_transit=False,
                use_remote_gateways=False,
                opts=scope.opts(),
            )
        self.private_link_service = pulumi.Output.from_input(pls_name) if args.connectivity.private_link else None
        self.publish(
            loadBalancerAnnotations=self.load_balancer_annotations, privateLinkService=self.private_link_service
        )
