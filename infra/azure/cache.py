"""Azure Cache for Redis: TLS 1.2+ only (the plaintext port off), AUTH with the access key, reachable only
through a private endpoint in the tenant's VNet. Azure encrypts the cache's data at rest with a platform key
(customer keys exist only on the Enterprise tiers), and does not let the caller choose the AUTH key: the
service-generated primary key is read back as a secret."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import redis

from infra.azure.common import AzureContext, global_name, lock_against_deletion
from infra.azure.network import TenantNetwork, private_endpoint
from infra.cloud import CacheEndpoint

REDIS_TLS_PORT = 6380
_SKU = re.compile(r"^(?P<name>Basic|Standard|Premium)_(?P<family>[CP])(?P<capacity>\d)$")


@dataclass(frozen=True)
class CacheSku:
    name: redis.SkuName
    family: redis.SkuFamily
    capacity: int

    @property
    def premium(self) -> bool:
        return self.name is redis.SkuName.PREMIUM


def parse_cache_sku(preset_value: str) -> CacheSku:
    """`Standard_C1` / `Premium_P2` (the size preset's cache_node_type) as Azure's name, family, capacity."""
    match = _SKU.match(preset_value)
    if match is None:
        raise ValueError(
            f"unknown Azure Cache for Redis size {preset_value!r}: expected e.g. Standard_C1 or Premium_P2"
        )
    sku = CacheSku(
        name=redis.SkuName(match.group("name")),
        family=redis.SkuFamily(match.group("family")),
        capacity=int(match.group("capacity")),
    )
    if sku.name is redis.SkuName.BASIC:
        raise ValueError("Basic Azure Cache for Redis has no SLA or replica: use Standard or Premium")
    if sku.premium != (sku.family is redis.SkuFamily.P):
        raise ValueError(f"{preset_value!r}: family P goes with Premium, family C with Standard")
    return sku


def cache_zones(sku: CacheSku, zones: tuple[str, ...]) -> list[str] | None:
    """The zones a Premium cache spreads its primary and replicas over; None for Standard (no zone choice) and
    in a region without availability zones, where a zone list is refused ("Enable zone redundancy for Azure
    Cache for Redis", Prerequisites: https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-zone-redundancy)."""
    return list(zones) if sku.premium and zones else None


@dataclass(frozen=True)
class Cache:
    cache: redis.Redis
    endpoint: CacheEndpoint


def build_cache(scope: AzureContext, net: TenantNetwork) -> Cache:
    ctx = scope.ctx
    spec = ctx.spec
    sku = parse_cache_sku(spec.preset.cache_node_type)
    cache = redis.Redis(
        ctx.name("redis"),
        name=global_name(spec.name, "redis", max_length=63),
        resource_group_name=scope.group_name,
        location=scope.location,
        sku={"name": sku.name, "family": sku.family, "capacity": sku.capacity},
        redis_version="6",
        enable_non_ssl_port=False,
        minimum_tls_version=redis.TlsVersion.TLS_VERSION_1_2,
        public_network_access=redis.PublicNetworkAccess.DISABLED,
        disable_access_key_authentication=False,  # the gateway authenticates with the access key (AUTH)
        # Zones and replica count are Premium features; Standard always runs one replica in the region. In a
        # region without availability zones, Premium's replicas stay in the region, unzoned.
        zones=cache_zones(sku, spec.zones),
        replicas_per_primary=max(spec.preset.cache_replicas, 1) if sku.premium else None,
        tags=ctx.tags,
        opts=scope.opts(stateful=True),
    )
    lock_against_deletion(scope, "redis", cache.id)
    private_endpoint(
        scope,
        net,
        "redis-endpoint",
        target_id=cache.id,
        group_id="redisCache",
        zone="privatelink.redis.cache.windows.net",
    )
    keys = redis.list_redis_keys_output(
        name=cache.name,
        resource_group_name=scope.group_name,
        opts=pulumi.InvokeOutputOptions(parent=ctx.parent, provider=scope.provider),
    )
    return Cache(
        cache=cache,
        endpoint=CacheEndpoint(
            host=cache.host_name, port=REDIS_TLS_PORT, auth_token=pulumi.Output.secret(keys.primary_key)
        ),
    )
