"""The GCP cloud module: builds one tenant's infrastructure in the tenant's own project (infra/cloud.py)."""

from __future__ import annotations

import pulumi

from infra.cloud import BuildContext, EgressAllow, Part, PrivateIngress, TenantInfrastructure
from infra.gcp.audit_trail import build_audit_trail
from infra.gcp.cache import build_cache
from infra.gcp.cluster import build_cluster
from infra.gcp.connectivity import build_connectivity
from infra.gcp.database import build_database
from infra.gcp.identity import bind_workload_identity, build_gateway_identity
from infra.gcp.keys import allow_key_use, build_keys
from infra.gcp.network import build_network, private_cidrs
from infra.gcp.project import ServiceAgent, open_project
from infra.gcp.services import enable_services
from infra.gcp.storage import build_storage

GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
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
    project = enable_services(open_project(ctx))
    keys = project.part(Part.KEYS)
    key = build_keys(keys)
    network = build_network(project.part(Part.NETWORK))
    identity_part = project.part(Part.IDENTITY)
    identity = build_gateway_identity(identity_part)
    cluster_part = project.part(Part.CLUSTER)
    cluster = build_cluster(cluster_part, network, key, allow_key_use(cluster_part, key, ServiceAgent.GKE))
    bind_workload_identity(identity_part, identity, cluster.cluster)
    database = build_database(project.part(Part.DATABASE), network, key)
    cache = build_cache(project.part(Part.CACHE), network, key)
    storage_key_grants = allow_key_use(keys, key, ServiceAgent.CLOUD_STORAGE)
    storage = build_storage(project.part(Part.STORAGE), key, identity, storage_key_grants)
    audit_trail = build_audit_trail(project.part(Part.AUDIT_TRAIL), key, storage_key_grants)
    connectivity = build_connectivity(project.part(Part.CONNECTIVITY), network, cluster)

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
        storage=storage,
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
        extra_outputs=extra_outputs,
    )
