"""Azure implementation of the tenant stack. `build(ctx)` is the composition point: it reads the spec and hands
each part (one module each) its args, built from the spec and from earlier parts."""

from __future__ import annotations

import pulumi

from infra.azure.audit_trail import AuditSource, AuditTrail, AuditTrailArgs
from infra.azure.cache import Cache, CacheArgs
from infra.azure.cluster import ClusterArgs, TenantCluster
from infra.azure.common import create_scope
from infra.azure.connectivity import ConnectivityArgs, TenantConnectivity, ingress_rules
from infra.azure.database import Database, DatabaseArgs
from infra.azure.keys import KeysArgs, TenantKeys
from infra.azure.network import NetworkArgs, TenantNetwork
from infra.azure.storage import AccountEncryption, StorageArgs, TenantStorage
from infra.cloud import BuildContext, EgressAllow, NodePool, TenantInfrastructure
from infra.spec import Cloud, StorageMode

HTTPS = 443


def build(ctx: BuildContext) -> TenantInfrastructure:
    if ctx.spec.cloud is not Cloud.AZURE:
        raise ValueError(f"infra.azure builds Azure tenants; tenant {ctx.spec.name!r} is on {ctx.spec.cloud.value}")
    spec, preset = ctx.spec, ctx.spec.preset
    scope = create_scope(ctx)
    net = TenantNetwork(scope, NetworkArgs(cidr=spec.network_cidr, ingress_rules=ingress_rules(spec.connectivity)))
    keys = TenantKeys(scope, KeysArgs(customer_managed_key=spec.customer_managed_key, site=net.private_link_site))
    encryption = AccountEncryption(
        key_name=keys.key_name,
        vault_uri=keys.vault_uri,
        identity_id=keys.encryption_identity.id,
        grants=keys.grants,
        zones=spec.zones,
    )
    peer = [spec.connectivity.peering.peer_cidr] if spec.connectivity.peering else []
    cluster = TenantCluster(
        scope,
        ClusterArgs(
            zones=spec.zones,
            avoid_cidrs=(spec.network_cidr, *peer),
            vnet_id=net.vnet.id,
            api_server_subnet_id=net.api_server_subnet.id,
            nodes_subnet_id=net.nodes_subnet.id,
            key_id_with_version=keys.key_id_with_version,
            vault_id=keys.vault.id if keys.vault is not None else None,
            nodes=NodePool.of(preset),
            operator_group_ids=tuple(spec.azure_operator_group_ids),
        ),
    )
    database = Database(
        scope,
        DatabaseArgs(
            sku=preset.db_instance_class,
            storage_gb=preset.db_storage_gb,
            high_availability=preset.db_high_availability,
            zones=spec.zones,
            vnet_id=net.vnet.id,
            database_subnet_id=net.database_subnet.id,
            key_id=keys.key_id,
            encryption_identity_id=keys.encryption_identity.id,
            key_grants=keys.grants,
            password=ctx.secret("databasePassword"),
        ),
    )
    cache = Cache(
        scope,
        CacheArgs(
            sku=preset.cache_node_type,
            site=net.private_link_site,
            key_id_with_version=keys.key_id_with_version,
            encryption_identity_id=keys.encryption_identity.id,
            key_grants=keys.grants,
        ),
    )
    identity = cluster.gateway_identity
    storage = TenantStorage(
        scope,
        StorageArgs(
            cors_origin=f"https://{spec.hostname}",
            allowed_cidrs=tuple(spec.connectivity.allowed_cidrs),
            site=net.private_link_site,
            encryption=encryption,
            gateway_principal_id=identity.principal_id,
            byob_container=spec.storage.bucket if spec.storage.mode is StorageMode.BYOB else None,
        ),
    )
    connectivity = TenantConnectivity(
        scope,
        ConnectivityArgs(connectivity=spec.connectivity, vnet_name=net.vnet.name, pls_subnet=net.endpoints_subnet_name),
    )

    sources = [
        AuditSource("aks", cluster.cluster.id, categories=("kube-audit", "guard")),
        AuditSource("mysql", database.server.id, categories=("MySqlAuditLogs",)),
        AuditSource("redis", cache.database.id, categories=("ConnectionEvents",)),
    ]
    if keys.vault is not None:
        sources.append(AuditSource("kv", keys.vault.id, category_groups=("audit",)))
    if storage.account is not None:
        blob_service = pulumi.Output.concat(storage.account.id, "/blobServices/default")
        sources.append(AuditSource("data", blob_service, category_groups=("audit",)))
    trail = AuditTrail(scope, AuditTrailArgs(encryption=encryption, vnet_id=net.vnet.id, sources=sources))

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
        # The blob endpoint (the storage probes, user-delegation keys) through its private endpoint. Microsoft
        # Entra ID, which the pods' workload identity exchanges tokens with, has no private endpoint: its ranges
        # are the spec's connectivity.egress_cidrs (docs/tenant-stack.md).
        api_egress=(EgressAllow(cidr=str(net.plan.endpoints), ports=(HTTPS,)),),
        extra_outputs={
            "resourceGroup": scope.group_name,
            "gatewayIdentityClientId": identity.client_id,
            "logArchiveAccount": trail.archive.account.name,
        },
    )
