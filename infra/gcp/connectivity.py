"""How the gateway is reached. Public ingress is the GKE Service's passthrough load balancer on 443 only,
allow-listed by the workload's loadBalancerSourceRanges. Private Service Connect publishes the gateway
through an internal passthrough load balancer on the nodes, behind a service attachment that accepts only
the listed consumer projects, each connection approved by hand. Peering joins a customer's VPC."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
from infra.gcp.project import GcpContext
from infra.spec import Peering
from infra.workload import LISTENER_PORT

HEALTH_CHECK_PORT = 10256  # kube-proxy / Dataplane V2 node health, as GKE's own load balancers use
GOOGLE_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
PSC_CONNECTION_LIMIT = 10
_NETWORK_LINK = re.compile(r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/[^/]+$")
_NETWORK_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PROJECT = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,20})$")  # a project id or number


def load_balancer_annotations(public_ingress: bool) -> dict[str, pulumi.Input[str]]:
    """GKE Service annotations: a backend-service-based external passthrough load balancer when the
    gateway is public, an internal one otherwise (reached over Private Service Connect or peering)."""
    if public_ingress:
        return {"cloud.google.com/l4-rbs": "enabled"}
    return {"networking.gke.io/load-balancer-type": "Internal"}


def peer_network_link(peering: Peering) -> str:
    """The peer VPC as `projects/<peer_owner>/global/networks/<name>`, from a bare name or a self link."""
    match = _NETWORK_LINK.match(peering.peer_network)
    if match:
        if match.group(1) != peering.peer_owner:
            raise ValueError(f"peer_network is in project {match.group(1)!r} but peer_owner is {peering.peer_owner!r}")
        return peering.peer_network
    if not _NETWORK_NAME.match(peering.peer_network):
        raise ValueError("peer_network must be a VPC name or a self link projects/<project>/global/networks/<name>")
    return f"projects/{peering.peer_owner}/global/networks/{peering.peer_network}"


def psc_consumers(consumers: Sequence[str]) -> list[str]:
    """The projects allowed to connect over Private Service Connect, each checked to be a project id or number."""
    for consumer in consumers:
        if not _PROJECT.match(consumer):
            raise ValueError(f"private_link_consumers entry {consumer!r} is not a GCP project id or number")
    return list(consumers)


@dataclass(frozen=True)
class ConnectivityArgs:
    region: str
    public_ingress: bool
    private_link_consumers: tuple[str, ...]  # non-empty: a Private Service Connect attachment for these projects
    peering: Peering | None
    vpc_id: pulumi.Input[str]
    vpc_self_link: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    psc_nat_cidr: str
    node_tag: str
    node_pool_groups: pulumi.Input[Sequence[str]]  # the node pool's managed instance groups (PSC backends)


class Connectivity(PartComponent):
    part = Part.CONNECTIVITY
    load_balancer_annotations: dict[str, pulumi.Input[str]]
    service_attachment: gcp.compute.ServiceAttachment | None
    private_link_address: pulumi.Output[str] | None  # internal address the gateway Service must accept
    peering: gcp.compute.NetworkPeering | None

    def __init__(self, scope: GcpContext, args: ConnectivityArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        self.service_attachment, self.private_link_address = None, None
        if args.private_link_consumers:
            self.service_attachment, self.private_link_address = _private_service_connect(project, args)
        self.peering = _peering(project, args, args.peering) if args.peering else None
        self.load_balancer_annotations = load_balancer_annotations(args.public_ingress)
        self.publish(
            loadBalancerAnnotations=self.load_balancer_annotations,
            serviceAttachment=self.service_attachment.self_link if self.service_attachment else None,
            privateLinkAddress=self.private_link_address,
        )


def _allow_to_nodes(
    project: GcpContext, args: ConnectivityArgs, part: str, sources: list[str], ports: list[int]
) -> None:
    gcp.compute.Firewall(
        project.ctx.name(part),
        name=project.ctx.name(part),
        project=project.project,
        network=args.vpc_id,
        direction="INGRESS",
        priority=1000,
        source_ranges=sources,
        target_tags=[args.node_tag],
        allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(port) for port in ports])],
        log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
        opts=project.opts(),
    )


def _private_service_connect(
    project: GcpContext, args: ConnectivityArgs
) -> tuple[gcp.compute.ServiceAttachment, pulumi.Output[str]]:
    ctx = project.ctx
    nat_subnet = gcp.compute.Subnetwork(
        ctx.name("psc-nat"),
        name=ctx.name("psc-nat"),
        project=project.project,
        region=args.region,
        network=args.vpc_id,
        ip_cidr_range=args.psc_nat_cidr,
        purpose="PRIVATE_SERVICE_CONNECT",
        opts=project.opts(),
    )
    _allow_to_nodes(
        project,
        args,
        "allow-private-service-connect",
        [args.psc_nat_cidr, *GOOGLE_HEALTH_CHECK_RANGES],
        [LISTENER_PORT, HEALTH_CHECK_PORT],
    )
    health_check = gcp.compute.RegionHealthCheck(
        ctx.name("psc-health"),
        name=ctx.name("psc-health"),
        project=project.project,
        region=args.region,
        http_health_check=gcp.compute.RegionHealthCheckHttpHealthCheckArgs(
            port=HEALTH_CHECK_PORT, request_path="/healthz"
        ),
        opts=project.opts(),
    )
    backend = gcp.compute.RegionBackendService(
        ctx.name("psc-backend"),
        name=ctx.name("psc-backend"),
        project=project.project,
        region=args.region,
        load_balancing_scheme="INTERNAL",
        protocol="TCP",
        health_checks=health_check.id,
        backends=pulumi.Output.from_input(args.node_pool_groups).apply(
            lambda urls: [
                gcp.compute.RegionBackendServiceBackendArgs(group=url, balancing_mode="CONNECTION") for url in urls
            ]
        ),
        opts=project.opts(),
    )
    address = gcp.compute.Address(
        ctx.name("psc-gateway"),
        name=ctx.name("psc-gateway"),
        project=project.project,
        region=args.region,
        subnetwork=args.subnet_id,
        address_type="INTERNAL",
        labels=project.labels,
        opts=project.opts(),
    )
    forwarding_rule = gcp.compute.ForwardingRule(
        ctx.name("psc-gateway"),
        name=ctx.name("psc-gateway"),
        project=project.project,
        region=args.region,
        load_balancing_scheme="INTERNAL",
        ip_protocol="TCP",
        ports=[str(LISTENER_PORT)],
        ip_address=address.address,
        network=args.vpc_id,
        subnetwork=args.subnet_id,
        backend_service=backend.id,
        labels=project.labels,
        opts=project.opts(),
    )
    attachment = gcp.compute.ServiceAttachment(
        ctx.name("gateway-psc"),
        name=ctx.name("gateway-psc"),
        project=project.project,
        region=args.region,
        description=f"Enclave gateway of tenant {project.tenant}",
        connection_preference="ACCEPT_MANUAL",
        consumer_accept_lists=[
            gcp.compute.ServiceAttachmentConsumerAcceptListArgs(
                project_id_or_num=consumer, connection_limit=PSC_CONNECTION_LIMIT
            )
            for consumer in psc_consumers(args.private_link_consumers)
        ],
        nat_subnets=[nat_subnet.id],
        enable_proxy_protocol=False,
        target_service=forwarding_rule.id,
        opts=project.opts(),
    )
    return attachment, address.address


def _peering(project: GcpContext, args: ConnectivityArgs, peering: Peering) -> gcp.compute.NetworkPeering:
    """Our half of the peering (the customer creates the other); the peer reaches the gateway on 443 only."""
    connection = gcp.compute.NetworkPeering(
        project.ctx.name("peering"),
        name=project.ctx.name("peering"),
        network=args.vpc_self_link,
        peer_network=peer_network_link(peering),
        export_custom_routes=False,
        import_custom_routes=False,
        opts=project.opts(),
    )
    _allow_to_nodes(project, args, "allow-peer", [str(peering.peer_cidr)], [LISTENER_PORT])
    return connection
