"""A private regional GKE cluster: private nodes, a private control-plane endpoint reachable only from the
tenant's network, secrets encrypted with the tenant key, Workload Identity, Dataplane V2 (enforces the
gateway's NetworkPolicies), control-plane logs, and one autoscaled node pool sized from the preset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.cloud import NodePool, Part, PartComponent
from infra.gcp.identity import workload_pool
from infra.gcp.project import GcpContext
from infra.kubeconfig import render_exec_kubeconfig

MAX_PODS_PER_NODE = 64  # one /25 of the pods range per node: a /20 tenant still fits the large preset
RELEASE_CHANNEL = "REGULAR"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"  # access is decided by IAM roles
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
LOG_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS")


def render_kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig for the cluster's private endpoint; tokens come from gke-gcloud-auth-plugin at use time."""
    if not endpoint or "/" in endpoint:
        raise ValueError(f"cluster endpoint must be a bare host or address, got {endpoint!r}")
    return render_exec_kubeconfig(
        cluster_name=cluster_name,
        server=f"https://{endpoint}",
        ca_data=ca_certificate,
        user=cluster_name,
        command="gke-gcloud-auth-plugin",
        extra_exec={"installHint": "gcloud components install gke-gcloud-auth-plugin", "provideClusterInfo": True},
    )


def authorized_networks(network: str, peer: str | None, operators: tuple[str, ...]) -> list[str]:
    """Who may reach the private control-plane endpoint: the tenant network, a peered network, and the spec's
    operator ranges (the VPN or bastion `pulumi up` runs from). Private-endpoint clusters take only private
    addresses here, and only listed ranges reach the endpoint ("About network isolation in GKE", control plane
    access with the private endpoint only and authorized networks,
    https://cloud.google.com/kubernetes-engine/docs/concepts/network-isolation), as the AWS stack's control-plane
    security group admits the operator ranges."""
    return list(dict.fromkeys([network, *([peer] if peer else []), *operators]))


@dataclass(frozen=True)
class ClusterArgs:
    region: str
    zones: tuple[str, ...]
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    pods_range: str
    services_range: str
    control_plane_cidr: str  # GKE's /28 for the control plane's private range
    authorized_cidrs: list[str]
    key_id: pulumi.Input[str]
    key_grants: Sequence[pulumi.Resource]  # the GKE agent's use of the tenant key, before the cluster
    nodes: NodePool
    deletion_protection: bool


class Cluster(PartComponent):
    part = Part.CLUSTER
    cluster: gcp.container.Cluster
    node_pool: gcp.container.NodePool
    node_tag: str  # network tag on every node, for firewall rules
    kubeconfig: pulumi.Output[str]  # secret

    def __init__(self, scope: GcpContext, args: ClusterArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        node_account = _node_service_account(project)
        self.node_tag = node_tag = ctx.name("node")
        self.cluster = cluster = gcp.container.Cluster(
            ctx.name("gke"),
            name=ctx.name("gke"),
            project=project.project,
            location=args.region,
            node_locations=list(args.zones),
            network=args.vpc_id,
            subnetwork=args.subnet_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range,
                services_secondary_range_name=args.services_range,
            ),
            default_max_pods_per_node=MAX_PODS_PER_NODE,
            # GKE creates the default pool with the cluster and only then removes it; its nodes run as the
            # cluster's `node_config` service account, which defaults to the Compute Engine default account
            # (Editor on the project unless an organization policy removed that grant, in which case they cannot
            # even write logs and the creation stalls). They run as the stack's least-privilege node account
            # instead ("Use least privilege IAM service accounts",
            # https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa;
            # the Terraform provider's `node_config` applies to the default pool).
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(
                **_node_config(node_account.email, node_tag, project.labels, args.nodes.machine_type)
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=True,
                master_ipv4_cidr_block=args.control_plane_cidr,
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr)
                    for cidr in args.authorized_cidrs
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=args.key_id),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=workload_pool(project.project)
            ),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
            datapath_provider="ADVANCED_DATAPATH",
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=list(LOG_COMPONENTS)),
            resource_labels=project.labels,
            deletion_protection=args.deletion_protection,
            opts=project.opts(depends_on=[*args.key_grants, *node_account.grants]),
        )
        self.node_pool = gcp.container.NodePool(
            ctx.name("nodes"),
            name=ctx.name("nodes"),
            project=project.project,
            cluster=cluster.id,
            location=args.region,
            node_locations=list(args.zones),
            initial_node_count=math.ceil(args.nodes.count_min / len(args.zones)),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=args.nodes.count_min,
                total_max_node_count=args.nodes.count_max,
                location_policy="BALANCED",
            ),
            max_pods_per_node=MAX_PODS_PER_NODE,
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                **_node_config(node_account.email, node_tag, project.labels, args.nodes.machine_type)
            ),
            opts=project.opts(),
        )
        ca_certificate = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, ca_certificate).apply(
            lambda values: render_kubeconfig(*values)
        )
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.publish(clusterName=cluster.name, nodeServiceAccount=node_account.email)


def _node_config(account: pulumi.Input[str], tag: str, labels: dict[str, str], machine_type: str) -> dict[str, Any]:
    """The nodes of every pool (the default one too): the stack's node account, shielded, GKE metadata server.
    The same fields build the cluster's `ClusterNodeConfigArgs` and the pool's `NodePoolNodeConfigArgs`."""
    return {
        "machine_type": machine_type,
        "service_account": account,
        "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "metadata": {"disable-legacy-endpoints": "true"},
        "tags": [tag],
        "resource_labels": labels,
    }


@dataclass(frozen=True)
class NodeAccount:
    email: pulumi.Output[str]
    grants: tuple[pulumi.Resource, ...]  # the account's roles, in place before any node runs as it


def _node_service_account(project: GcpContext) -> NodeAccount:
    """A least-privilege node identity instead of the Compute Engine default (Editor) account."""
    ctx = project.ctx
    account = gcp.serviceaccount.Account(
        ctx.name("nodes"),
        account_id=ctx.name("nodes"),
        project=project.project,
        display_name=f"Enclave GKE nodes of tenant {project.tenant}",
        opts=project.opts(),
    )
    grants = tuple(
        gcp.projects.IAMMember(
            ctx.name(f"nodes-{role.removeprefix('roles/').replace('.', '-').lower()}"),
            project=project.project,
            role=role,
            member=account.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=project.opts(),
        )
        for role in NODE_ROLES
    )
    return NodeAccount(account.email, grants)
