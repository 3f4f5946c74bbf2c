"""How the gateway is reached. Public ingress is the GKE Service's passthrough load balancer on 443 only,
allow-listed by the workload's loadBalancerSourceRanges. Private Service Connect publishes the gateway
through an internal passthrough load balancer on the nodes, behind a service attachment that accepts only
the listed consumer projects, each connection approved by hand. Peering joins a customer's VPC."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.gcp.cluster import Cluster
from infra.gcp.network import Network
from infra.gcp.project import GcpContext
from infra.spec import Peering, TenantSpec
from infra.workload import LISTENER_PORT

HEALTH_CHECK_PORT = 10256  # kube-proxy / Dataplane V2 node health, as GKE's own load balancers use
GOOGLE_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
PSC_CONNECTION_LIMIT = 10
_NETWORK_LINK = re.compile(r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/[^/]+$")
_NETWORK_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PROJECT = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,20})$")  # a project id or number


@dataclass(frozen=True)
class Connectivity:
    load_balancer_annotations: dict[str, pulumi.Input[str]]
    service_attachment: gcp.compute.ServiceAttachment | None
    private_link_address: pulumi.Output[str] | None  # internal address the gateway Service must accept
    peering: gcp.compute.NetworkPeering | None


def load_balancer_annotations(spec: TenantSpec) -> dict[str, pulumi.Input[str]]:
    """GKE Service annotations: a backend-service-based external passthrough load balancer when the
    gateway is public, an internal one otherwise (reached over Private Service Connect or peering)."""
    if spec.connectivity.public_ingress:
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


def psc_consumers(spec: TenantSpec) -> list[str]:
    """The projects allowed to connect over Private Service Connect, each checked to be a project id or number."""
    for consumer in spec.connectivity.private_link_consumers:
        if not _PROJECT.match(consumer):
            raise ValueError(f"private_link_consumers entry {consumer!r} is not a GCP project id or number")
    return list(spec.connectivity.private_link_consumers)


def build_connectivity(project: GcpContext, network: Network, cluster: Cluster) -> Connectivity:
    spec = project.ctx.spec
    attachment, address = (None, None)
    if spec.connectivity.private_link:
        attachment, address = _private_service_connect(project, network, cluster)
    peering = _peering(project, network, cluster, spec.connectivity.peering) if spec.connectivity.peering else None
    return Connectivity(load_balancer_annotations(spec), attachment, address, peering)


def _allow_to_nodes(
    project: GcpContext, network: Network, cluster: Cluster, part: str, sources: list[str], ports: list[int]
) -> None:
    gcp.compute.Firewall(
        project.ctx.name(part),
        name=project.ctx.name(part),
        project=project.project,
        network=network.vpc.id,
        direction="INGRESS",
        priority=1000,
        source_ranges=sources,
        target_tags=[cluster.node_tag],
        allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(port) for port in ports])],
        log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
        opts=project.opts(),
    )


def _private_service_connect(
    project: GcpContext, network: Network, cluster: Cluster
) -> tuple[gcp.compute.ServiceAttachment, pulumi.Output[str]]:
    ctx = project.ctx
    spec = ctx.spec
    nat_subnet = gcp.compute.Subnetwork(
        ctx.name("psc-nat"),
        name=ctx.name("psc-nat"),
        project=project.project,
        region=project.region,
        network=network.vpc.id,
        ip_cidr_range=str(network.plan.private_service_connect),
        purpose="PRIVATE_SERVICE_CONNECT",
        opts=project.opts(),
    )
    _allow_to_nodes(
        project,
        network,
        cluster,
        "allow-private-service-connect",
        [str(network.plan.private_service_connect), *GOOGLE_HEALTH_CHECK_RANGES],
        [LISTENER_PORT, HEALTH_CHECK_PORT],
    )
    health_check = gcp.compute.RegionHealthCheck(
        ctx.name("psc-health"),
        name=ctx.name("psc-health"),
        project=project.project,
        region=project.region,
        http_health_check=gcp.compute.RegionHealthCheckHttpHealthCheckArgs(
            port=HEALTH_CHECK_PORT, request_path="/healthz"
        ),
        opts=project.opts(),
    )
    backend = gcp.compute.RegionBackendService(
        ctx.name("psc-backend"),
        name=ctx.name("psc-backend"),
        project=project.project,
        region=project.region,
        load_balancing_scheme="INTERNAL",
        protocol="TCP",
        health_checks=health_check.id,
        backends=cluster.node_pool.managed_instance_group_urls.apply(
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
        region=project.region,
        subnetwork=network.subnet.id,
        address_type="INTERNAL",
        labels=project.labels,
        opts=project.opts(),
    )
    forwarding_rule = gcp.compute.ForwardingRule(
        ctx.name("psc-gateway"),
        name=ctx.name("psc-gateway"),
        project=project.project,
        region=project.region,
        load_balancing_scheme="INTERNAL",
        ip_protocol="TCP",
        ports=[str(LISTENER_PORT)],
        ip_address=address.address,
        network=network.vpc.id,
        subnetwork=network.subnet.id,
        backend_service=backend.id,
        labels=project.labels,
        opts=project.opts(),
    )
    attachment = gcp.compute.ServiceAttachment(
        ctx.name("gateway-psc"),
        name=ctx.name("gateway-psc"),
        project=project.project,
        region=project.region,
        description=f"Enclave gateway of tenant {spec.name}",
        connection_preference="ACCEPT_MANUAL",
        consumer_accept_lists=[
            gcp.compute.ServiceAttachmentConsumerAcceptListArgs(
                project_id_or_num=consumer, connection_limit=PSC_CONNECTION_LIMIT
            )
            for consumer in psc_consumers(spec)
        ],
        nat_subnets=[nat_subnet.id],
        enable_proxy_protocol=False,
        target_service=forwarding_rule.id,
        opts=project.opts(),
    )
    return attachment, address.address


def _peering(project: GcpContext, network: Network, cluster: Cluster, peering: Peering) -> gcp.compute.NetworkPeering:
    """Our half of the peering (the customer creates the other); the peer reaches the gateway on 443 only."""
    connection = gcp.compute.NetworkPeering(
        project.ctx.name("peering"),
        name=project.ctx.name("peering"),
        network=network.vpc.self_link,
        peer_network=peer_network_link(peering),
        export_custom_routes=False,
        import_custom_routes=False,
        opts=project.opts(),
    )
    _allow_to_nodes(project, network, cluster, "allow-peer", [str(peering.peer_cidr)], [LISTENER_PORT])
    return connection
