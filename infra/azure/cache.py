"""Azure Managed Redis: TLS 1.2+ only, AUTH with the database's access key, reached only through a private
endpoint in the tenant's VNet, its disks encrypted with the tenant key, replicated (high availability on).

Azure Cache for Redis is being retired in all its tiers (announced October 2025): Enterprise and Enterprise
Flash on March 31, 2027, Basic, Standard and Premium on September 30, 2028, with Azure Managed Redis as the
replacement ("Azure Cache for Redis retirement FAQ", https://learn.microsoft.com/azure/azure-cache-for-redis/retirement-faq;
"What's new", https://learn.microsoft.com/azure/azure-cache-for-redis/cache-whats-new). A subscription without
a cache created before April 1, 2026 cannot create new ones; Enclave gives every tenant a fresh subscription
(infra/azure/common.py), so a tenant stack could not create one at all (only the later October 1, 2026 block on
existing customers was lifted, in July 2026). Azure Managed Redis
is the `Microsoft.Cache/redisEnterprise` resource type with the Balanced / Memory Optimized / Compute Optimized /
Flash Optimized SKUs (pulumi-azure-native `redisenterprise.RedisEnterprise` and `redisenterprise.Database`, the
"Azure Managed Redis" SKU names in `redisenterprise.SkuName`), with these differences from the retired service
that matter here:

- one database per instance, named `default`, on port 10000 ("Azure Managed Redis architecture", ports:
  https://learn.microsoft.com/azure/redis/architecture); with the Enterprise clustering policy a client that is
  not cluster-aware (the gateway's redis-py client) sees a single endpoint;
- the access key belongs to the database (`listKeys` on `.../databases/default`), and access-key
  authentication is an explicit database setting;
- customer-managed keys are supported on every tier, through a user-assigned identity, with a *versioned* key
  URL ("Configure disk encryption for Azure Managed Redis instances using customer managed keys",
  https://learn.microsoft.com/azure/redis/how-to-encryption): the tenant key's current version, read on every
  `pulumi up` (infra/azure/keys.py `current_version`);
- the private endpoint's sub-resource is `redisEnterprise` and its DNS zone `privatelink.redis.azure.net`
  ("Azure Private Endpoint private DNS zone values", https://learn.microsoft.com/azure/private-link/private-endpoint-dns);
- zone redundancy comes from high availability itself in a region with availability zones (no zone list to
  give: "Reliability in Azure Managed Redis", https://learn.microsoft.com/azure/reliability/reliability-managed-redis),
  and a region without zones keeps the replica in the region;
- connection audit logs are the database's `ConnectionEvents` category (supported logs for
  Microsoft.Cache/redisEnterprise/databases,
  https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-cache-redisenterprise-databases-logs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import redisenterprise

from infra.azure.common import AzureContext, global_name, lock_against_deletion
from infra.azure.network import PrivateLinkSite, private_endpoint
from infra.cloud import CacheEndpoint, Part, PartComponent

PORT = 10000
DATABASE = "default"  # Azure Managed Redis has exactly one database, named default
MIN_TLS_VERSION = "1.2"
PRIVATE_DNS_ZONE = "privatelink.redis.azure.net"
PRIVATE_LINK_GROUP = "redisEnterprise"
_SKU = re.compile(r"^(Balanced_B|MemoryOptimized_M|ComputeOptimized_X|FlashOptimized_A)\d+$")


def managed_redis_sku(preset_value: str) -> redisenterprise.SkuName:
    """The size preset's cache_node_type as an Azure Managed Redis SKU (`Balanced_B1`, `MemoryOptimized_M10`...);
    the retired tiers (`Standard_C1`, `Premium_P2`) and the Enterprise SKUs being retired with them are refused."""
    if not _SKU.match(preset_value):
        raise ValueError(
            f"{preset_value!r} is not an Azure Managed Redis SKU (e.g. Balanced_B1, MemoryOptimized_M10): Azure Cache "
            "for Redis and its Enterprise tiers are retired"
        )
    try:
        return redisenterprise.SkuName(preset_value)
    except ValueError:
        raise ValueError(f"{preset_value!r} is not an Azure Managed Redis SKU the provider knows") from None


@dataclass(frozen=True)
class CacheArgs:
    sku: str
    site: PrivateLinkSite
    key_id_with_version: pulumi.Input[str]  # Azure Managed Redis takes a versioned key URL only
    encryption_identity_id: pulumi.Input[str]
    key_grants: tuple[pulumi.Resource, ...]


class Cache(PartComponent):
    part = Part.CACHE
    cluster: redisenterprise.RedisEnterprise
    database: redisenterprise.Database
    endpoint: CacheEndpoint

    def __init__(self, scope: AzureContext, args: CacheArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        self.cluster = cluster = redisenterprise.RedisEnterprise(
            ctx.name("redis"),
            cluster_name=global_name(scope.tenant, "redis", max_length=60),
            resource_group_name=scope.group_name,
            location=scope.location,
            sku={"name": managed_redis_sku(args.sku)},
            high_availability=redisenterprise.HighAvailability.ENABLED,
            minimum_tls_version=MIN_TLS_VERSION,
            public_network_access=redisenterprise.PublicNetworkAccess.DISABLED,
            identity={
                "type": redisenterprise.ManagedServiceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [args.encryption_identity_id],
            },
            encryption={
                "customer_managed_key_encryption": {
                    "key_encryption_key_url": args.key_id_with_version,
                    "key_encryption_key_identity": {
                        "identity_type": redisenterprise.CmkIdentityType.USER_ASSIGNED_IDENTITY,
                        "user_assigned_identity_resource_id": args.encryption_identity_id,
                    },
                }
            },
            tags=ctx.tags,
            opts=scope.opts(stateful=True, depends_on=list(args.key_grants)),
        )
        self.database = database = redisenterprise.Database(
            ctx.name("redis-db"),
            cluster_name=cluster.name,
            database_name=DATABASE,
            resource_group_name=scope.group_name,
            client_protocol=redisenterprise.Protocol.ENCRYPTED,
            clustering_policy=redisenterprise.ClusteringPolicy.ENTERPRISE_CLUSTER,
            eviction_policy=redisenterprise.EvictionPolicy.VOLATILE_LRU,
            port=PORT,
            # The gateway authenticates with the database's access key (Redis AUTH).
            access_keys_authentication=redisenterprise.AccessKeysAuthentication.ENABLED,
            opts=scope.opts(stateful=True),
        )
        lock_against_deletion(scope, "redis", cluster.id)
        private_endpoint(
            scope, args.site, "redis-endpoint", target_id=cluster.id, group_id=PRIVATE_LINK_GROUP, zone=PRIVATE_DNS_ZONE
        )
        keys = redisenterprise.list_database_keys_output(
            cluster_name=cluster.name,
            database_name=database.name,
            resource_group_name=scope.group_name,
            opts=pulumi.InvokeOutputOptions(parent=ctx.parent, provider=scope.provider),
        )
        self.endpoint = CacheEndpoint(
            host=cluster.host_name, port=PORT, auth_token=pulumi.Output.secret(keys.primary_key)
        )
        self.publish(host=cluster.host_name, port=PORT)
