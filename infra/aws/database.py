"""RDS for MySQL 8.4: private subnets only, reachable from the nodes only, TLS required by parameter,
encrypted with the tenant key, 7+ days of backups (point-in-time recovery), Multi-AZ from `medium`,
deletion protection and a final snapshot, and an audit log (logins, DDL, DCL) kept in an encrypted log group,
as the Azure stack keeps MySQL's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.cluster import nodes_only_security_group
from infra.aws.context import AwsContext
from infra.aws.network import LOG_RETENTION_DAYS
from infra.cloud import DatabaseEndpoint, Part, PartComponent

ENGINE_VERSION = "8.4"
MAJOR_ENGINE_VERSION = "8.4"
PARAMETER_FAMILY = "mysql8.4"
PORT = 3306
DATABASE_NAME = "enclave"
DATABASE_USER = "enclave"
BACKUP_RETENTION_DAYS = 14
CA_CERT = "rds-ca-rsa2048-g1"
STORAGE_AUTOSCALING_FACTOR = 2
# The MariaDB Audit Plugin, which RDS offers for every MySQL 8.4 version ("Options for MySQL DB instances",
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.html), recording connections
# and the statements that change schema or grants ("MariaDB Audit Plugin support for MySQL", option settings,
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.AuditPlugin.html); the same
# events the Azure stack's audit_log_events records.
AUDIT_PLUGIN = "MARIADB_AUDIT_PLUGIN"
AUDIT_EVENTS = "CONNECT,QUERY_DDL,QUERY_DCL"
EXPORTED_LOGS = ["audit", "error", "slowquery"]


@dataclass(frozen=True)
class DatabaseArgs:
    identifier: str
    instance_class: str
    storage_gb: int
    high_availability: bool  # Multi-AZ
    deletion_protection: bool
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    password: pulumi.Output[str]  # secret, from stack config
    log_group_names: tuple[str, ...]  # `/aws/rds/instance/<identifier>/<type>` for each exported log


class Database(PartComponent):
    part = Part.DATABASE
    instance: aws.rds.Instance
    endpoint: DatabaseEndpoint

    def __init__(self, scope: AwsContext, args: DatabaseArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        subnets = aws.rds.SubnetGroup(
            actx.name("db"),
            name=actx.name("db"),
            subnet_ids=list(args.subnet_ids),
            tags=actx.tags(),
            opts=actx.opts(),
        )
        group = nodes_only_security_group(
            actx, args.vpc_id, args.node_security_group_id, "db", PORT, "MySQL: from the cluster nodes only"
        )
        parameters = aws.rds.ParameterGroup(
            actx.name("db-params"),
            name=actx.name("db-params"),
            family=PARAMETER_FAMILY,
            parameters=[{"name": "require_secure_transport", "value": "1", "apply_method": "immediate"}],
            tags=actx.tags(),
            opts=actx.opts(),
        )
        options = aws.rds.OptionGroup(
            actx.name("db-options"),
            name=actx.name("db-options"),
            option_group_description=f"Enclave tenant {actx.tenant}: MySQL audit log",
            engine_name="mysql",
            major_engine_version=MAJOR_ENGINE_VERSION,
            options=[
                {
                    "option_name": AUDIT_PLUGIN,
                    "option_settings": [{"name": "SERVER_AUDIT_EVENTS", "value": AUDIT_EVENTS}],
                }
            ],
            tags=actx.tags(),
            opts=actx.opts(),
        )
        log_groups = [
            aws.cloudwatch.LogGroup(
                actx.name(f"db-{name.rsplit('/', 1)[-1]}-logs"),
                name=name,
                kms_key_id=args.key_arn,
                retention_in_days=LOG_RETENTION_DAYS,
                tags=actx.tags(),
                opts=actx.opts(stateful=True),
            )
            for name in args.log_group_names
        ]
        self.instance = aws.rds.Instance(
            actx.name("db"),
            identifier=args.identifier,
            engine="mysql",
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gb,
            max_allocated_storage=args.storage_gb * STORAGE_AUTOSCALING_FACTOR,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.key_arn,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            password=args.password,
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            option_group_name=options.name,
            publicly_accessible=False,
            multi_az=args.high_availability,
            backup_retention_period=BACKUP_RETENTION_DAYS,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=actx.name("db-final"),
            ca_cert_identifier=CA_CERT,
            iam_database_authentication_enabled=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.key_arn,
            enabled_cloudwatch_logs_exports=EXPORTED_LOGS,
            auto_minor_version_upgrade=True,
            tags=actx.tags(),
            # Its log groups exist (encrypted, retained) before RDS starts exporting into them.
            opts=actx.opts(stateful=True, depends_on=log_groups),
        )
        self.endpoint = DatabaseEndpoint(
            host=self.instance.address, port=PORT, name=DATABASE_NAME, user=DATABASE_USER, password=args.password
        )
        self.publish(address=self.instance.address, port=PORT)
