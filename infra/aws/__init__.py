"""The AWS implementation of the tenant stack. `build(ctx)` is the composition point: it reads the spec and
hands each part (keys, network, cluster, identity, autoscaling, storage, database, cache, audit trail,
connectivity; one module each) its args, built from the spec and from earlier parts."""

from __future__ import annotations

from infra.aws.audit_trail import AuditTrail, AuditTrailArgs
from infra.aws.autoscaler import AutoscalingArgs, ClusterAutoscaling
from infra.aws.cache import Cache, CacheArgs
from infra.aws.cluster import Cluster, ClusterArgs
from infra.aws.connectivity import PRIVATE_LINK_NODE_PORT, Connectivity, ConnectivityArgs
from infra.aws.context import aws_context
from infra.aws.credentials import CACHE_AUTH_TOKEN, DATABASE_PASSWORD, stack_secret
from infra.aws.database import Database, DatabaseArgs
from infra.aws.identity import ROLE_ANNOTATION, GatewayIdentity, IdentityArgs
from infra.aws.keys import Keys, KeysArgs
from infra.aws.names import (
    cluster_name,
    database_identifier,
    eks_log_group_name,
    flow_log_group_name,
    rds_log_group_names,
    trail_name,
)
from infra.aws.network import HTTPS, Network, NetworkArgs
from infra.aws.storage import ByobBucket, Storage, StorageArgs
from infra.cloud import BuildContext, EgressAllow, NodePool, PrivateIngress, TenantInfrastructure
from infra.spec import StorageMode


def build(ctx: BuildContext) -> TenantInfrastructure:
    actx = aws_context(ctx)
    spec, preset = ctx.spec, ctx.spec.preset
    eks_logs, flow_logs, rds_logs = eks_log_group_name(actx), flow_log_group_name(actx), rds_log_group_names(actx)
    keys = Keys(
        actx,
        KeysArgs(
            region=spec.region,
            customer_managed_key=spec.customer_managed_key,
            trail_name=trail_name(actx),
            log_group_names=(flow_logs, eks_logs, *rds_logs),
        ),
    )
    network = Network(
        actx,
        NetworkArgs(
            cidr=spec.network_cidr,
            zones=spec.zones,
            cluster_name=cluster_name(actx),
            key_arn=keys.key_arn,
            flow_log_group_name=flow_logs,
        ),
    )
    cluster = Cluster(
        actx,
        ClusterArgs(
            cluster_name=cluster_name(actx),
            log_group_name=eks_logs,
            key_arn=keys.key_arn,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            egress_routes=network.egress_routes,
            operator_cidrs=tuple(str(c) for c in spec.operator_cidrs),
            nodes=NodePool.of(preset),
            deletion_protection=spec.deletion_protection,
        ),
    )
    identity = GatewayIdentity(actx, IdentityArgs(oidc_issuer=cluster.oidc_issuer))
    ClusterAutoscaling(
        actx,
        AutoscalingArgs(
            cluster_name=cluster.name,
            kubeconfig=cluster.kubeconfig,
            node_group_arn=cluster.node_group_arn,
            autoscaling_group_name=cluster.autoscaling_group_name,
            oidc_provider=identity.oidc_provider,
            oidc_issuer=identity.oidc_issuer,
        ),
    )
    byob = spec.storage if spec.storage.mode is StorageMode.BYOB else None
    storage = Storage(
        actx,
        StorageArgs(
            cors_origin=f"https://{spec.hostname}",
            key_arn=keys.key_arn,
            gateway_role_name=identity.role_name,
            gateway_role_arn=identity.role_arn,
            byob=(
                ByobBucket(byob.bucket or "", byob.customer_account or "", byob.external_id)  # the spec requires both
                if byob is not None
                else None
            ),
        ),
    )
    connectivity = Connectivity(
        actx,
        ConnectivityArgs(
            hostname=spec.hostname,
            public_ingress=spec.connectivity.public_ingress,
            route53_zone_id=spec.route53_zone_id,
            certificate_validated=spec.acm_certificate_validated,
            private_link_consumers=tuple(spec.connectivity.private_link_consumers),
            peering=spec.connectivity.peering,
            deletion_protection=spec.deletion_protection,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            private_cidrs=network.private_cidrs,
            private_route_table_ids=network.private_route_table_ids,
            node_security_group_id=cluster.node_security_group_id,
            autoscaling_group_name=cluster.autoscaling_group_name,
        ),
    )
    database = Database(
        actx,
        DatabaseArgs(
            identifier=database_identifier(actx),
            instance_class=preset.db_instance_class,
            storage_gb=preset.db_storage_gb,
            high_availability=preset.db_high_availability,
            deletion_protection=spec.deletion_protection,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            node_security_group_id=cluster.node_security_group_id,
            key_arn=keys.key_arn,
            password=stack_secret(ctx, "databasePassword", DATABASE_PASSWORD),
            log_group_names=rds_logs,
        ),
    )
    cache = Cache(
        actx,
        CacheArgs(
            node_type=preset.cache_node_type,
            replicas=preset.cache_replicas,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            node_security_group_id=cluster.node_security_group_id,
            key_arn=keys.key_arn,
            auth_token=stack_secret(ctx, "cacheAuthToken", CACHE_AUTH_TOKEN),
        ),
    )
    audit_trail = AuditTrail(
        actx,
        AuditTrailArgs(
            trail_name=trail_name(actx),
            region=spec.region,
            deletion_protection=spec.deletion_protection,
            key_arn=keys.key_arn,
            account_id=network.account_id,
            data_bucket_arn=storage.managed_bucket_arn,
        ),
    )
    return TenantInfrastructure(
        cluster_name=cluster.name,
        kubeconfig=cluster.kubeconfig,
        key_id=keys.key_arn,
        database=database.endpoint,
        cache=cache.endpoint,
        storage=storage.wiring,
        audit_trail=audit_trail.trail_arn,
        gateway_service_account_annotations={ROLE_ANNOTATION: identity.role_arn},
        gateway_pod_labels={},  # IRSA needs no pod label; the service account annotation is enough
        load_balancer_annotations=connectivity.load_balancer_annotations,
        private_cidrs=network.private_cidrs,
        private_link_service=connectivity.private_link_service,
        private_ingress=(
            PrivateIngress(node_port=PRIVATE_LINK_NODE_PORT) if connectivity.private_link_service is not None else None
        ),
        # STS and S3 through their interface endpoints, which live in the private subnets.
        api_egress=tuple(EgressAllow(cidr=cidr, ports=(HTTPS,)) for cidr in network.private_cidrs),
        extra_outputs=connectivity.extra_outputs,
    )
