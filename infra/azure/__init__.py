"""Azure implementation of the tenant stack: `build(ctx)` composes the parts, each in its own module."""

from __future__ import annotations

import pulumi

from infra.azure.audit_trail import AuditSource, build_audit_trail, build_log_archive
from infra.azure.cache import build_cache
from infra.azure.cluster import build_cluster
from infra.azure.common import create_scope
from infra.azure.connectivity import build_connectivity
from infra.azure.database import build_database
from infra.azure.keys import build_keys
from infra.azure.network import build_network, flow_log
from infra.azure.storage import build_storage
from infra.cloud import BuildContext, Part, TenantInfrastructure
from infra.spec import Cloud


def build(ctx: BuildContext) -> TenantInfrastructure:
    if ctx.spec.cloud is not Cloud.AZURE:
        raise ValueError(f"infra.azure builds Azure tenants; tenant {ctx.spec.name!r} is on {ctx.spec.cloud.value}")
    scope = create_scope(ctx)
    net = build_network(scope.part(Part.NETWORK))
    keys = build_keys(scope.part(Part.KEYS), net)
    audit = scope.part(Part.AUDIT_TRAIL)
    archive = build_log_archive(audit, keys)
    flow_log(audit, net, archive.account.id)
    cluster = build_cluster(scope.part(Part.CLUSTER), net, keys)
    database = build_database(scope.part(Part.DATABASE), net, keys)
    cache = build_cache(scope.part(Part.CACHE), net)
    storage = build_storage(scope.part(Part.STORAGE), keys, cluster.gateway_identity)
    connectivity = build_connectivity(
        scope.part(Part.CONNECTIVITY), vnet_name=net.vnet.name, pls_subnet=net.endpoints_subnet_name
    )

    sources = [
        AuditSource("aks", cluster.cluster.id, categories=("kube-audit", "guard")),
        AuditSource("mysql", database.server.id, categories=("MySqlAuditLogs",)),
        AuditSource("redis", cache.cache.id, category_groups=("allLogs",)),
    ]
    if keys.vault is not None:
        sources.append(AuditSource("kv", keys.vault.id, category_groups=("audit",)))
    if storage.account is not None:
        blob_service = pulumi.Output.concat(storage.account.id, "/blobServices/default")
        sources.append(AuditSource("data", blob_service, category_groups=("audit",)))
    trail = build_audit_trail(audit, archive, sources)

    identity = cluster.gateway_identity
    return TenantInfrastructure(
        cluster_name=cluster.cluster.name,
        kubeconfig=cluster.kubeconfig,
        key_id=keys.key_id,
        database=database.endpoint,
        cache=cache.endpoint,
        storage=storage.wiring,
        audit_trail=trail.settings["aks"].id,
        gateway_service_account_annotations={"azure.workload.identity/client-id": identity.client_id},
        gateway_pod_labels={"azure.workload.identity/use": "true"},
        load_balancer_annotations=connectivity.load_balancer_annotations,
        private_cidrs=net.plan.private_cidrs,
        private_link_service=connectivity.private_link_service,
        extra_outputs={
            "resourceGroup": scope.group_name,
            "gatewayIdentityClientId": identity.client_id,
            "logArchiveAccount": archive.account.name,
        },
    )
