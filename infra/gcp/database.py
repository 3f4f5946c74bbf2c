"""Cloud SQL for MySQL 8 on a private address only (private services access), TLS required, encrypted with
the tenant key, daily backups with binary logs for point-in-time recovery, regional HA from `medium` up,
deletion protection and a final backup when the instance is deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import DatabaseEndpoint, Part, PartComponent
from infra.gcp.project import GcpContext
from infra.gcp.server_ca import server_ca_bundle

MYSQL_VERSION = "MYSQL_8_0"
MYSQL_PORT = 3306
DATABASE_NAME = "enclave"
DATABASE_USER = "enclave"
BACKUPS_RETAINED = 14  # daily backups kept (>= 7 days of recovery points)
LOG_RETENTION_DAYS = 7  # binary logs for point-in-time recovery
FINAL_BACKUP_RETENTION_DAYS = 30
BACKUP_START_TIME = "02:00"  # UTC


@dataclass(frozen=True)
class DatabaseArgs:
    region: str
    zones: tuple[str, ...]
    tier: str
    disk_gb: int
    high_availability: bool  # REGIONAL, with the standby in the second zone
    deletion_protection: bool
    vpc_id: pulumi.Input[str]
    private_services_range: pulumi.Input[str]
    private_services: pulumi.Resource  # the private services access connection the address comes from
    key_id: pulumi.Input[str]
    key_grants: Sequence[pulumi.Resource]  # the Cloud SQL agent's use of the key, before the instance
    password: pulumi.Output[str]  # secret, from stack config


class Database(PartComponent):
    part = Part.DATABASE
    instance: gcp.sql.DatabaseInstance
    endpoint: DatabaseEndpoint

    def __init__(self, scope: GcpContext, args: DatabaseArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        self.instance = instance = gcp.sql.DatabaseInstance(
            ctx.name("mysql"),
            name=ctx.name("mysql"),
            project=project.project,
            region=args.region,
            database_version=MYSQL_VERSION,
            encryption_key_name=args.key_id,
            deletion_protection=args.deletion_protection,
            settings=gcp.sql.DatabaseInstanceSettingsArgs(
                tier=args.tier,
                edition="ENTERPRISE",
                availability_type="REGIONAL" if args.high_availability else "ZONAL",
                location_preference=gcp.sql.DatabaseInstanceSettingsLocationPreferenceArgs(
                    zone=args.zones[0], secondary_zone=args.zones[1] if args.high_availability else None
                ),
                disk_type="PD_SSD",
                disk_size=args.disk_gb,
                disk_autoresize=True,
                deletion_protection_enabled=args.deletion_protection,
                ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False,
                    private_network=args.vpc_id,
                    allocated_ip_range=args.private_services_range,
                    ssl_mode="ENCRYPTED_ONLY",
                ),
                backup_configuration=gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                    enabled=True,
                    binary_log_enabled=True,
                    start_time=BACKUP_START_TIME,
                    transaction_log_retention_days=LOG_RETENTION_DAYS,
                    backup_retention_settings=gcp.sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                        retained_backups=BACKUPS_RETAINED, retention_unit="COUNT"
                    ),
                ),
                final_backup_config=gcp.sql.DatabaseInstanceSettingsFinalBackupConfigArgs(
                    enabled=True, retention_days=FINAL_BACKUP_RETENTION_DAYS
                ),
                user_labels=project.labels,
            ),
            opts=project.opts(stateful=True, depends_on=[args.private_services, *args.key_grants]),
        )
        database = gcp.sql.Database(
            ctx.name("database"),
            name=DATABASE_NAME,
            project=project.project,
            instance=instance.name,
            charset="utf8mb4",
            collation="utf8mb4_0900_ai_ci",
            opts=project.opts(stateful=True),
        )
        gcp.sql.User(
            ctx.name("database-user"),
            name=DATABASE_USER,
            project=project.project,
            instance=instance.name,
            host="%",
            password=args.password,
            opts=project.opts(depends_on=[database]),
        )
        self.endpoint = DatabaseEndpoint(
            host=instance.private_ip_address,
            port=MYSQL_PORT,
            name=DATABASE_NAME,
            user=DATABASE_USER,
            password=pulumi.Output.secret(args.password),
            server_ca=instance.server_ca_certs.apply(
                lambda cas: server_ca_bundle([c.cert for c in cas or []], "Cloud SQL")
            ),
            # The instance keeps the default per-instance CA: "an internal CA dedicated to each Cloud SQL
            # instance signs the server certificate for that instance" (Cloud SQL for MySQL, "Authorize with
            # SSL/TLS certificates", section "Certificate authority (CA) hierarchies",
            # https://cloud.google.com/sql/docs/mysql/authorize-ssl), so a chain to that CA already identifies
            # this instance; its server certificate names the instance, not the private address the gateway dials.
            check_hostname=False,
        )
        self.publish(privateIp=instance.private_ip_address, port=MYSQL_PORT)
