"""A private regional GKE cluster: private nodes, a private control-plane endpoint reachable only from the
tenant's network, secrets encrypted with the tenant key, Workload Identity, Dataplane V2 (enforces the
gateway's NetworkPolicies), control-plane logs, and one autoscaled node pool sized from the preset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.gcp.identity import workload_pool
from infra.gcp.keys import TenantKey
from infra.gcp.network import Network
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


@dataclass(frozen=True)
class Cluster:
    cluster: gcp.container.Cluster
    node_pool: gcp.container.NodePool
    node_tag: str  # network tag on every node, for firewall rules
    kubeconfig: pulumi.Output[str]  # secret


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


def authorized_networks(project: GcpContext) -> list[str]:
    """Who may reach the private control-plane endpoint: the tenant network, and a peered network."""
    spec = project.ctx.spec
    cidrs = [str(spec.network_cidr)]
    if spec.connectivity.peering:
        cidrs.append(str(spec.connectivity.peering.peer_cidr))
    return cidrs


def build_cluster(
    project: GcpContext, network: Network, key: TenantKey, key_grants: Sequence[pulumi.Resource]
) -> Cluster:
    ctx = project.ctx
    spec = ctx.spec
    node_account = _node_service_account(project)
    cluster = gcp.container.Cluster(
        ctx.name("gke"),
        name=ctx.name("gke"),
        project=project.project,
        location=project.region,
        node_locations=list(spec.zones),
        network=network.vpc.id,
        subnetwork=network.subnet.id,
        networking_mode="VPC_NATIVE",
        ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
            cluster_secondary_range_name=network.pods_range,
            services_secondary_range_name=network.services_range,
        ),
        default_max_pods_per_node=MAX_PODS_PER_NODE,
        remove_default_node_pool=True,
        initial_node_count=1,
        private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            enable_private_endpoint=True,
            master_ipv4_cidr_block=str(network.plan.control_plane),
        ),
        master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[
                gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr)
                for cidr in authorized_networks(project)
            ],
            gcp_public_cidrs_access_enabled=False,
        ),
        database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key.key_id),
        workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
            workload_pool=workload_pool(project.project)
        ),
        release_channel=gcp.container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
        datapath_provider="ADVANCED_DATAPATH",
        enable_shielded_nodes=True,
        enable_legacy_abac=False,
        logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=list(LOG_COMPONENTS)),
        resource_labels=project.labels,
        deletion_protection=spec.deletion_protection,
        opts=project.opts(depends_on=list(key_grants)),
    )
    node_tag = ctx.name("node")
    node_pool = gcp.container.NodePool(
        ctx.name("nodes"),
        name=ctx.name("nodes"),
        project=project.project,
        cluster=cluster.id,
        location=project.region,
        node_locations=list(spec.zones),
        initial_node_count=math.ceil(spec.preset.node_count_min / len(spec.zones)),
        autoscaling=gcp.container.NodePoolAutoscalingArgs(
            total_min_node_count=spec.preset.node_count_min,
            total_max_node_count=spec.preset.node_count_max,
            location_policy="BALANCED",
        ),
        max_pods_per_node=MAX_PODS_PER_NODE,
        management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
        node_config=gcp.container.NodePoolNodeConfigArgs(
            machine_type=spec.preset.node_machine_type,
            service_account=node_account.email,
            oauth_scopes=[CLOUD_PLATFORM_SCOPE],
            workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
            metadata={"disable-legacy-endpoints": "true"},
            tags=[node_tag],
            resource_labels=project.labels,
        ),
        opts=project.opts(),
    )
    ca_certificate = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
    kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, ca_certificate).apply(
        lambda args: render_kubeconfig(*args)
    )
    return Cluster(cluster, node_pool, node_tag, pulumi.Output.secret(kubeconfig))


def _node_service_account(project: GcpContext) -> gcp.serviceaccount.Account:
    """A least-privilege node identity instead of the Compute Engine default (Editor) account."""
    ctx = project.ctx
    account = gcp.serviceaccount.Account(
        ctx.name("nodes"),
        account_id=ctx.name("nodes"),
        project=project.project,
        display_name=f"Enclave GKE nodes of tenant {ctx.spec.name}",
        opts=project.opts(),
    )
    for role in NODE_ROLES:
        gcp.projects.IAMMember(
            ctx.name(f"nodes-{role.removeprefix('roles/').replace('.', '-').lower()}"),
            project=project.project,
            role=role,
            member=account.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=project.opts(),
        )
    return account
