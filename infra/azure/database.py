"""Azure Database for MySQL Flexible Server 8.0: VNet-injected (no public access), TLS required, encrypted
with the tenant key, 14 days of point-in-time backups, zone-redundant HA from `medium` up (same-zone HA in a
region without availability zones, as its `Region.warnings` say).

Azure has no deletion-protection flag on the server: a CanNotDelete lock and Pulumi's protect option stand
in for it, and Azure keeps a dropped server restorable for 5 days (no final snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import dbformysql

from infra.azure.common import AzureContext, global_name, lock_against_deletion
from infra.azure.network import private_dns_zone
from infra.cloud import DatabaseEndpoint, Part, PartComponent

MYSQL_VERSION = "8.0.21"
BACKUP_RETENTION_DAYS = 14
DATABASE_NAME = "enclave"
ADMIN_LOGIN = "enclave_admin"
MYSQL_PORT = 3306
# Server parameters set explicitly (applied one after another: Azure serialises parameter updates).
SERVER_PARAMETERS = {
    "require_secure_transport": "ON",
    "tls_version": "TLSv1.2,TLSv1.3",
    "audit_log_enabled": "ON",
    "audit_log_events": "CONNECTION,DDL,DCL",
}
_SKU_TIERS = (
    (re.compile(r"^Standard_B\d+m?s$"), dbformysql.ServerSkuTier.BURSTABLE),
    (re.compile(r"^Standard_D\d+a?ds_v\d$"), dbformysql.ServerSkuTier.GENERAL_PURPOSE),
    (re.compile(r"^Standard_E\d+a?ds_v\d$"), dbformysql.ServerSkuTier.MEMORY_OPTIMIZED),
)


def sku_tier(sku_name: str) -> dbformysql.ServerSkuTier:
    for pattern, tier in _SKU_TIERS:
        if pattern.match(sku_name):
            return tier
    raise ValueError(
        f"unknown MySQL Flexible Server SKU {sku_name!r}: expected Standard_B*, Standard_D*ds_v* or Standard_E*ds_v*"
    )


def high_availability(
    *, enabled: bool, tier: dbformysql.ServerSkuTier, zones: tuple[str, ...]
) -> dbformysql.HighAvailabilityArgsDict:
    """Zone-redundant HA (the standby in a second zone) where the region has two zones or more; where it has
    fewer, same-zone HA (a standby in the primary's zone: it survives a server failure, not a zone's). Same-zone
    HA needs no zones and zone-redundant HA needs them ("High availability concepts in Azure Database for MySQL
    - Flexible Server", Zone-redundant HA / Same-zone HA:
    https://learn.microsoft.com/azure/mysql/flexible-server/concepts-high-availability). Burstable servers
    cannot have HA at all."""
    if not enabled:
        return {"mode": dbformysql.HighAvailabilityMode.DISABLED}
    if tier is dbformysql.ServerSkuTier.BURSTABLE:
        raise ValueError("MySQL high availability needs a General Purpose or Memory Optimized SKU, not Burstable")
    if len(zones) < 2:
        return {"mode": dbformysql.HighAvailabilityMode.SAME_ZONE}
    return {"mode": dbformysql.HighAvailabilityMode.ZONE_REDUNDANT, "standby_availability_zone": zones[1]}


def primary_zone(zones: tuple[str, ...]) -> str | None:
    """The primary's zone, or None (Azure places the server) in a region without availability zones."""
    return zones[0] if zones else None


@dataclass(frozen=True)
class DatabaseArgs:
    sku: str
    storage_gb: int
    high_availability: bool
    zones: tuple[str, ...]
    vnet_id: pulumi.Input[str]
    database_subnet_id: pulumi.Input[str]
    key_id: pulumi.Input[str]  # versionless: the server follows the key's rotations
    encryption_identity_id: pulumi.Input[str]
    key_grants: Sequence[pulumi.Resource]
    password: pulumi.Output[str]  # secret, from stack config


class Database(PartComponent):
    part = Part.DATABASE
    server: dbformysql.Server
    endpoint: DatabaseEndpoint

    def __init__(self, scope: AzureContext, args: DatabaseArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        tier = sku_tier(args.sku)
        server_name = global_name(scope.tenant, "mysql", max_length=63)
        dns = private_dns_zone(scope, args.vnet_id, "mysql-dns", f"{server_name}.private.mysql.database.azure.com")
        self.server = server = dbformysql.Server(
            ctx.name("mysql"),
            server_name=server_name,
            resource_group_name=scope.group_name,
            location=scope.location,
            version=MYSQL_VERSION,
            administrator_login=ADMIN_LOGIN,
            administrator_login_password=args.password,
            sku={"name": args.sku, "tier": tier},
            storage={"storage_size_gb": args.storage_gb, "auto_grow": "Enabled", "auto_io_scaling": "Enabled"},
            backup={"backup_retention_days": BACKUP_RETENTION_DAYS, "geo_redundant_backup": "Disabled"},
            availability_zone=primary_zone(args.zones),
            high_availability=high_availability(enabled=args.high_availability, tier=tier, zones=args.zones),
            network={
                "public_network_access": "Disabled",
                "delegated_subnet_resource_id": args.database_subnet_id,
                "private_dns_zone_resource_id": dns.zone.id,
            },
            identity={"type": "UserAssigned", "user_assigned_identities": [args.encryption_identity_id]},
            data_encryption={
                "type": dbformysql.DataEncryptionType.AZURE_KEY_VAULT,
                "primary_key_uri": args.key_id,
                "primary_user_assigned_identity_id": args.encryption_identity_id,
            },
            tags=ctx.tags,
            # The server registers its name in the private DNS zone, which must already be linked to the VNet: the
            # link is a separate resource that only the explicit dependency orders ("Private Network Access using
            # virtual network integration", Private DNS zone and virtual network link:
            # https://learn.microsoft.com/azure/mysql/flexible-server/concepts-networking-vnet; the azurerm
            # `mysql_flexible_server` example creates the server `depends_on` the zone's virtual network link).
            opts=scope.opts(
                stateful=True,
                depends_on=[*args.key_grants, dns.link],
                additional_secret_outputs=["administratorLoginPassword"],
            ),
        )
        lock_against_deletion(scope, "mysql", server.id)
        previous: list[pulumi.Resource] = []
        for parameter, value in SERVER_PARAMETERS.items():
            configuration = dbformysql.Configuration(
                ctx.name(f"mysql-{parameter.replace('_', '-')}"),
                configuration_name=parameter,
                server_name=server.name,
                resource_group_name=scope.group_name,
                value=value,
                source="user-override",
                opts=scope.opts(depends_on=list(previous)),
            )
            previous = [configuration]
        dbformysql.Database(
            ctx.name("mysql-db"),
            database_name=DATABASE_NAME,
            server_name=server.name,
            resource_group_name=scope.group_name,
            charset="utf8mb4",
            collation="utf8mb4_0900_ai_ci",
            opts=scope.opts(stateful=True),
        )
        self.endpoint = DatabaseEndpoint(
            host=server.fully_qualified_domain_name,
            port=MYSQL_PORT,
            name=DATABASE_NAME,
            user=ADMIN_LOGIN,
            password=args.password,
        )
        self.publish(host=server.fully_qualified_domain_name, port=MYSQL_PORT)
