"""The GCP cloud module: builds one tenant's infrastructure in the tenant's own project (infra/cloud.py).
`build(ctx)` is the composition point: it reads the spec and hands each part its args."""

from __future__ import annotations

import pulumi

from infra.cloud import BuildContext, EgressAllow, NodePool, PrivateIngress, TenantInfrastructure
from infra.gcp.audit_trail import AuditTrail, AuditTrailArgs
from infra.gcp.cache import Cache, CacheArgs
from infra.gcp.cluster import Cluster, ClusterArgs, authorized_networks
from infra.gcp.connectivity import Connectivity, ConnectivityArgs
from infra.gcp.database import Database, DatabaseArgs
from infra.gcp.identity import GatewayIdentity, IdentityArgs
from infra.gcp.keys import KeysArgs, TenantKey
from infra.gcp.network import Network, NetworkArgs, private_cidrs
from infra.gcp.project import ServiceAgent, open_project
from infra.gcp.services import Services, ServicesArgs
from infra.gcp.storage import BucketEncryption, Storage, StorageArgs
from infra.spec import StorageMode

GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
HTTPS = 443
# Pods get their workload-identity tokens from the GKE metadata server on their node; with default-deny egress
# the gateway must be allowed to reach it: 169.254.169.254/32 on port 80 (the metadata address, which GKE
# Dataplane V2 serves) and 169.254.169.252/32 on port 988 (where the GKE metadata server listens) ("About
# Workload Identity Federation for GKE", section "Limitations", network policy note,
# https://cloud.google.com/kubernetes-engine/docs/concepts/workload-identity).
METADATA_SERVER_EGRESS = (
    EgressAllow(cidr="169.254.169.254/32", ports=(80,)),
    EgressAllow(cidr="169.254.169.252/32", ports=(988,)),
)


def build(ctx: BuildContext) -> TenantInfrastructure:
    spec, preset = ctx.spec, ctx.spec.preset
    project = Services(open_project(ctx), ServicesArgs()).project
    key = TenantKey(
        project,
        KeysArgs(
            region=spec.region,
            customer_managed_key=spec.customer_managed_key,
            deletion_protection=spec.deletion_protection,
        ),
    )
    network = Network(project, NetworkArgs(cidr=spec.network_cidr, region=spec.region))
    peer = str(spec.connectivity.peering.peer_cidr) if spec.connectivity.peering else None
    cluster = Cluster(
        project,
        ClusterArgs(
            region=spec.region,
            zones=spec.zones,
            vpc_id=network.vpc.id,
            subnet_id=network.subnet.id,
            pods_range=network.pods_range,
            services_range=network.services_range,
            control_plane_cidr=str(network.plan.control_plane),
            authorized_cidrs=authorized_networks(
                str(spec.network_cidr), peer, tuple(str(c) for c in spec.operator_cidrs)
            ),
            key_id=key.key_id,
            key_grants=key.grants[ServiceAgent.GKE],
            nodes=NodePool.of(preset),
            deletion_protection=spec.deletion_protection,
        ),
    )
    identity = GatewayIdentity(project, IdentityArgs(cluster=cluster.cluster))
    database = Database(
        project,
        DatabaseArgs(
            region=spec.region,
            zones=spec.zones,
            tier=preset.db_instance_class,
            disk_gb=preset.db_storage_gb,
            high_availability=preset.db_high_availability,
            deletion_protection=spec.deletion_protection,
            vpc_id=network.vpc.id,
            private_services_range=network.private_services_range.name,
            private_services=network.private_services,
            key_id=key.key_id,
            key_grants=key.grants[ServiceAgent.CLOUD_SQL],
            password=ctx.secret("databasePassword"),
        ),
    )
    cache = Cache(
        project,
        CacheArgs(
            region=spec.region,
            zones=spec.zones,
            tier=preset.cache_node_type,
            memory_gb=preset.cache_memory_gb,
            replicas=preset.cache_replicas,
            deletion_protection=spec.deletion_protection,
            vpc_id=network.vpc.id,
            private_services_range=network.private_services_range.name,
            private_services=network.private_services,
            key_id=key.key_id,
            key_grants=key.grants[ServiceAgent.MEMORYSTORE],
        ),
    )
    buckets = BucketEncryption(spec.region, key.key_id, key.grants[ServiceAgent.CLOUD_STORAGE])
    storage = Storage(
        project,
        StorageArgs(
            cors_origin=f"https://{spec.hostname}",
            encryption=buckets,
            gateway_member=identity.member,
            gateway_email=identity.email,
            byob_bucket=spec.storage.bucket if spec.storage.mode is StorageMode.BYOB else None,
        ),
    )
    audit_trail = AuditTrail(project, AuditTrailArgs(encryption=buckets, lock_retention=spec.deletion_protection))
    connectivity = Connectivity(
        project,
        ConnectivityArgs(
            region=spec.region,
            public_ingress=spec.connectivity.public_ingress,
            private_link_consumers=tuple(spec.connectivity.private_link_consumers),
            peering=spec.connectivity.peering,
            vpc_id=network.vpc.id,
            vpc_self_link=network.vpc.self_link,
            subnet_id=network.subnet.id,
            psc_nat_cidr=str(network.plan.private_service_connect),
            node_tag=cluster.node_tag,
            node_pool_groups=cluster.node_pool.managed_instance_group_urls,
        ),
    )

    extra_outputs: dict[str, pulumi.Output[str]] = {}
    if key.customer_managed:  # the customer grants these service agents use of its key
        extra_outputs["kmsKeyUsers"] = pulumi.Output.all(
            *(project.agent_member(agent) for agent in ServiceAgent)
        ).apply(",".join)
    private_ingress = None
    if connectivity.private_link_address is not None:
        extra_outputs["privateLinkAddress"] = connectivity.private_link_address
        private_ingress = PrivateIngress(external_ips=(connectivity.private_link_address,))
    return TenantInfrastructure(
        cluster_name=cluster.cluster.name,
        kubeconfig=cluster.kubeconfig,
        key_id=key.key_id,
        database=database.endpoint,
        cache=cache.endpoint,
        storage=storage.wiring,
        audit_trail=audit_trail.sink.name,
        gateway_service_account_annotations={GKE_SERVICE_ACCOUNT_ANNOTATION: identity.email},
        gateway_pod_labels={},
        load_balancer_annotations=connectivity.load_balancer_annotations,
        private_cidrs=private_cidrs(network.plan),
        private_link_service=(
            connectivity.service_attachment.self_link if connectivity.service_attachment is not None else None
        ),
        private_ingress=private_ingress,
        identity_egress=METADATA_SERVER_EGRESS,
        api_egress=(EgressAllow(cidr=network.google_apis_cidr, ports=(HTTPS,)),),
        extra_outputs=extra_outputs,
    )
