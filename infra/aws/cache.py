"""ElastiCache for Redis: TLS required (no plaintext port), AUTH token from stack config, encrypted at rest
with the tenant key, private subnets, reachable from the nodes only; replicas across zones with failover."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from infra.aws.cluster import Cluster, nodes_only_security_group
from infra.aws.context import AwsContext
from infra.aws.credentials import CACHE_AUTH_TOKEN, stack_secret
from infra.aws.keys import Keys
from infra.aws.network import Network
from infra.cloud import CacheEndpoint

ENGINE_VERSION = "7.1"
PORT = 6379
SNAPSHOT_RETENTION_DAYS = 7


@dataclass(frozen=True)
class Cache:
    replication_group: aws.elasticache.ReplicationGroup
    endpoint: CacheEndpoint


def build_cache(actx: AwsContext, network: Network, cluster: Cluster, keys: Keys) -> Cache:
    preset = actx.spec.preset
    subnets = aws.elasticache.SubnetGroup(
        actx.name("cache"),
        name=actx.name("cache"),
        subnet_ids=network.private_subnet_ids,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    group = nodes_only_security_group(actx, network, cluster, "cache", PORT, "Redis: from the cluster nodes only")
    token = stack_secret(actx.ctx, "cacheAuthToken", CACHE_AUTH_TOKEN)
    replicated = preset.cache_replicas > 0
    group_resource = aws.elasticache.ReplicationGroup(
        actx.name("cache"),
        replication_group_id=actx.name("cache"),
        description=f"Enclave tenant {actx.spec.name} cache",
        engine="redis",
        engine_version=ENGINE_VERSION,
        node_type=preset.cache_node_type,
        num_cache_clusters=1 + preset.cache_replicas,
        automatic_failover_enabled=replicated,
        multi_az_enabled=replicated,
        port=PORT,
        subnet_group_name=subnets.name,
        security_group_ids=[group.id],
        transit_encryption_enabled=True,
        transit_encryption_mode="required",
        auth_token=token,
        at_rest_encryption_enabled=True,
        kms_key_id=keys.key_arn,
        snapshot_retention_limit=SNAPSHOT_RETENTION_DAYS,
        final_snapshot_identifier=actx.name("cache-final"),
        auto_minor_version_upgrade=True,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    endpoint = CacheEndpoint(host=group_resource.primary_endpoint_address, port=PORT, auth_token=token)
    return Cache(replication_group=group_resource, endpoint=endpoint)
