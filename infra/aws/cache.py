"""ElastiCache for Redis: TLS required (no plaintext port), AUTH token from stack config, encrypted at rest
with the tenant key, private subnets, reachable from the nodes only; replicas across zones with failover."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.cluster import nodes_only_security_group
from infra.aws.context import AwsContext
from infra.cloud import CacheEndpoint, Part, PartComponent

ENGINE_VERSION = "7.1"
PORT = 6379
SNAPSHOT_RETENTION_DAYS = 7


@dataclass(frozen=True)
class CacheArgs:
    node_type: str
    replicas: int  # beyond the primary; any replica turns on failover across zones
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    auth_token: pulumi.Output[str]  # secret, from stack config


class Cache(PartComponent):
    part = Part.CACHE
    replication_group: aws.elasticache.ReplicationGroup
    endpoint: CacheEndpoint

    def __init__(self, scope: AwsContext, args: CacheArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        subnets = aws.elasticache.SubnetGroup(
            actx.name("cache"),
            name=actx.name("cache"),
            subnet_ids=list(args.subnet_ids),
            tags=actx.tags(),
            opts=actx.opts(),
        )
        group = nodes_only_security_group(
            actx, args.vpc_id, args.node_security_group_id, "cache", PORT, "Redis: from the cluster nodes only"
        )
        replicated = args.replicas > 0
        self.replication_group = aws.elasticache.ReplicationGroup(
            actx.name("cache"),
            replication_group_id=actx.name("cache"),
            description=f"Enclave tenant {actx.tenant} cache",
            engine="redis",
            engine_version=ENGINE_VERSION,
            node_type=args.node_type,
            num_cache_clusters=1 + args.replicas,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            port=PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=args.auth_token,
            at_rest_encryption_enabled=True,
            kms_key_id=args.key_arn,
            snapshot_retention_limit=SNAPSHOT_RETENTION_DAYS,
            final_snapshot_identifier=actx.name("cache-final"),
            auto_minor_version_upgrade=True,
            tags=actx.tags(),
            opts=actx.opts(stateful=True),
        )
        self.endpoint = CacheEndpoint(
            host=self.replication_group.primary_endpoint_address, port=PORT, auth_token=args.auth_token
        )
        self.publish(primaryEndpoint=self.replication_group.primary_endpoint_address, port=PORT)
