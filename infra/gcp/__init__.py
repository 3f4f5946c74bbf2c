"""The GCP cloud module: builds one tenant's infrastructure in the tenant's own project (infra/cloud.py)."""

from __future__ import annotations

import pulumi

from infra.cloud import BuildContext, PrivateIngress, TenantInfrastructure
from infra.gcp.audit_trail import build_audit_trail
from infra.gcp.cache import build_cache
from infra.gcp.cluster import build_cluster
from infra.gcp.connectivity import build_connectivity
from infra.gcp.database import build_database
from infra.gcp.identity import build_gateway_identity
from infra.gcp.keys import allow_key_use, build_keys
from infra.gcp.network import build_network, private_cidrs
from infra.gcp.project import ServiceAgent, open_project
from infra.gcp.storage import build_storage

GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"


def build(ctx: BuildContext) -> TenantInfrastructure:
    project = open_project(ctx)
    key = build_keys(project)
    network = build_network(project)
    identity = build_gateway_identity(project)
    cluster = build_cluster(project, network, key, allow_key_use(project, key, ServiceAgent.GKE))
    database = build_database(project, network, key)
    cache = build_cache(project, network, key)
    storage_key_grants = allow_key_use(project, key, ServiceAgent.CLOUD_STORAGE)
    storage = build_storage(project, key, identity, storage_key_grants)
    audit_trail = build_audit_trail(project, key, storage_key_grants)
    connectivity = build_connectivity(project, network, cluster)

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
        extra_outputs=extra_outputs,
    )
