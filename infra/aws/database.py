"""RDS for MySQL 8.4: private subnets only, reachable from the nodes only, TLS required by parameter,
encrypted with the tenant key, 7+ days of backups (point-in-time recovery), Multi-AZ from `medium`,
deletion protection and a final snapshot."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from infra.aws.cluster import Cluster, nodes_only_security_group
from infra.aws.context import AwsContext
from infra.aws.credentials import DATABASE_PASSWORD, stack_secret
from infra.aws.keys import Keys
from infra.aws.network import Network
from infra.cloud import DatabaseEndpoint

ENGINE_VERSION = "8.4"
PARAMETER_FAMILY = "mysql8.4"
PORT = 3306
DATABASE_NAME = "enclave"
DATABASE_USER = "enclave"
BACKUP_RETENTION_DAYS = 14
CA_CERT = "rds-ca-rsa2048-g1"
STORAGE_AUTOSCALING_FACTOR = 2


@dataclass(frozen=True)
class Database:
    instance: aws.rds.Instance
    endpoint: DatabaseEndpoint


def build_database(actx: AwsContext, network: Network, cluster: Cluster, keys: Keys) -> Database:
    spec, preset = actx.spec, actx.spec.preset
    subnets = aws.rds.SubnetGroup(
        actx.name("db"),
        name=actx.name("db"),
        subnet_ids=network.private_subnet_ids,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    group = nodes_only_security_group(actx, network, cluster, "db", PORT, "MySQL: from the cluster nodes only")
    parameters = aws.rds.ParameterGroup(
        actx.name("db-params"),
        name=actx.name("db-params"),
        family=PARAMETER_FAMILY,
        parameters=[{"name": "require_secure_transport", "value": "1", "apply_method": "immediate"}],
        tags=actx.tags(),
        opts=actx.opts(),
    )
    password = stack_secret(actx.ctx, "databasePassword", DATABASE_PASSWORD)
    instance = aws.rds.Instance(
        actx.name("db"),
        identifier=actx.name("db"),
        engine="mysql",
        engine_version=ENGINE_VERSION,
        instance_class=preset.db_instance_class,
        allocated_storage=preset.db_storage_gb,
        max_allocated_storage=preset.db_storage_gb * STORAGE_AUTOSCALING_FACTOR,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=keys.key_arn,
        db_name=DATABASE_NAME,
        username=DATABASE_USER,
        password=password,
        port=PORT,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[group.id],
        parameter_group_name=parameters.name,
        publicly_accessible=False,
        multi_az=preset.db_high_availability,
        backup_retention_period=BACKUP_RETENTION_DAYS,
        copy_tags_to_snapshot=True,
        delete_automated_backups=False,
        deletion_protection=spec.deletion_protection,
        skip_final_snapshot=False,
        final_snapshot_identifier=actx.name("db-final"),
        ca_cert_identifier=CA_CERT,
        iam_database_authentication_enabled=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=keys.key_arn,
        enabled_cloudwatch_logs_exports=["error", "slowquery"],
        auto_minor_version_upgrade=True,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    endpoint = DatabaseEndpoint(
        host=instance.address, port=PORT, name=DATABASE_NAME, user=DATABASE_USER, password=password
    )
    return Database(instance=instance, endpoint=endpoint)
