"""The AWS implementation of the tenant stack: `build(ctx)` composes keys, network, cluster (with IRSA),
database, cache, storage, audit trail and connectivity, each in its own module."""

from __future__ import annotations

from infra.aws.audit_trail import build_audit_trail
from infra.aws.cache import build_cache
from infra.aws.cluster import build_cluster
from infra.aws.connectivity import PRIVATE_LINK_NODE_PORT, build_connectivity
from infra.aws.context import aws_context
from infra.aws.database import build_database
from infra.aws.identity import ROLE_ANNOTATION, build_gateway_identity
from infra.aws.keys import build_keys
from infra.aws.network import build_network
from infra.aws.storage import build_storage
from infra.cloud import BuildContext, Part, PrivateIngress, TenantInfrastructure


def build(ctx: BuildContext) -> TenantInfrastructure:
    actx = aws_context(ctx)
    keys = build_keys(actx.part(Part.KEYS))
    network = build_network(actx.part(Part.NETWORK), keys)
    cluster = build_cluster(actx.part(Part.CLUSTER), network, keys)
    identity = build_gateway_identity(actx.part(Part.IDENTITY), cluster)
    storage = build_storage(actx.part(Part.STORAGE), identity, keys)
    connectivity = build_connectivity(actx.part(Part.CONNECTIVITY), network, cluster)
    database = build_database(actx.part(Part.DATABASE), network, cluster, keys)
    cache = build_cache(actx.part(Part.CACHE), network, cluster, keys)
    audit_trail = build_audit_trail(actx.part(Part.AUDIT_TRAIL), network, storage, keys)
    return TenantInfrastructure(
        cluster_name=cluster.name,
        kubeconfig=cluster.kubeconfig,
        key_id=keys.key_arn,
        database=database.endpoint,
        cache=cache.endpoint,
        storage=storage.wiring,
        audit_trail=audit_trail,
        gateway_service_account_annotations={ROLE_ANNOTATION: identity.role_arn},
        gateway_pod_labels={},  # IRSA needs no pod label; the service account annotation is enough
        load_balancer_annotations=connectivity.load_balancer_annotations,
        private_cidrs=network.private_cidrs,
        private_link_service=connectivity.private_link_service,
        private_ingress=(
            PrivateIngress(node_port=PRIVATE_LINK_NODE_PORT) if connectivity.private_link_service is not None else None
        ),
        extra_outputs=connectivity.extra_outputs,
    )
