"""Object storage: the tenant's managed storage account, or BYOB wiring to the customer's.

Managed: no anonymous access, HTTPS and TLS 1.2+ only, Entra ID only (shared keys off; the gateway signs
user-delegation SAS), the tenant key with infrastructure double encryption, versioning and soft delete, CORS
for the gateway's origin only, a private endpoint for the gateway, and the account's firewall denying by
default (`data_network`).
BYOB: the gateway's managed identity is the platform identity the customer's kit grants access to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from infra.azure.common import (
    ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
    AzureContext,
    global_name,
    grant_role,
    lock_against_deletion,
)
from infra.azure.network import PrivateLinkSite, private_endpoint
from infra.cloud import Part, PartComponent, StorageWiring

DATA_CONTAINER = "tenant-data"
# The blob endpoint's private DNS zone ("Azure Private Endpoint private DNS zone values", Storage,
# https://learn.microsoft.com/azure/private-link/private-endpoint-dns).
BLOB_PRIVATE_DNS_ZONE = "privatelink.blob.core.windows.net"
SOFT_DELETE_DAYS = 30
CORS_METHODS = ["GET", "HEAD", "PUT", "OPTIONS"]
CORS_HEADERS = ["content-type", "content-md5", "x-ms-blob-type", "x-ms-blob-content-type", "x-ms-version"]
CORS_MAX_AGE_SECONDS = 3600


def firewall_ip_rules(cidrs: Sequence[ipaddress.IPv4Network]) -> list[storage.IPRuleArgsDict]:
    """Storage firewall rules take CIDRs up to /30; /31 and /32 must be listed as single addresses."""
    rules: list[storage.IPRuleArgsDict] = []
    for cidr in cidrs:
        if cidr.prefixlen <= 30:
            rules.append({"i_p_address_or_range": str(cidr), "action": storage.Action.ALLOW})
        else:
            rules.extend({"i_p_address_or_range": str(ip), "action": storage.Action.ALLOW} for ip in cidr)
    return rules


@dataclass(frozen=True)
class AccountEncryption:
    """The tenant key an account encrypts with (versionless: it follows rotations), the identity it uses the
    key as, the role grants that identity needs first, and the zones that decide the account's redundancy."""

    key_name: pulumi.Input[str]
    vault_uri: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    grants: tuple[pulumi.Resource, ...]
    zones: tuple[str, ...]


@dataclass(frozen=True)
class AccountSettings:
    """What differs between the tenant's two accounts (data, log archive); everything else is shared."""

    part: str
    network_rules: storage.NetworkRuleSetArgsDict
    public_network_access: storage.PublicNetworkAccess
    allow_shared_key_access: bool
    cors_origin: str | None = None
    immutability: storage.ImmutableStorageAccountArgsDict | None = None
    ignore_changes: tuple[str, ...] = ()  # inputs changed outside the program on purpose (the archive's lock)


def redundancy(zones: Sequence[str]) -> storage.SkuName:
    """Zone-redundant storage where the region has availability zones; locally redundant where it has none.

    ZRS exists only in regions with availability zones ("Azure Storage redundancy", Zone-redundant storage:
    https://learn.microsoft.com/azure/storage/common/storage-redundancy#zone-redundant-storage). The geo options
    are not a substitute: they copy the data to the paired region, outside the region the tenant chose.
    """
    return storage.SkuName.STANDARD_ZRS if zones else storage.SkuName.STANDARD_LRS


def secure_account(scope: AzureContext, keys: AccountEncryption, settings: AccountSettings) -> storage.StorageAccount:
    ctx = scope.ctx
    account = storage.StorageAccount(
        ctx.name(settings.part),
        account_name=global_name(scope.tenant, settings.part, max_length=24, hyphens=False),
        resource_group_name=scope.group_name,
        location=scope.location,
        kind=storage.Kind.STORAGE_V2,
        sku={"name": redundancy(keys.zones)},
        allow_blob_public_access=False,
        enable_https_traffic_only=True,
        minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
        allow_shared_key_access=settings.allow_shared_key_access,
        default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False,
        public_network_access=settings.public_network_access,
        network_rule_set=settings.network_rules,
        identity={"type": storage.IdentityType.USER_ASSIGNED, "user_assigned_identities": [keys.identity_id]},
        encryption={
            "key_source": storage.KeySource.MICROSOFT_KEYVAULT,
            "key_vault_properties": {"key_name": keys.key_name, "key_vault_uri": keys.vault_uri},
            "encryption_identity": {"encryption_user_assigned_identity": keys.identity_id},
            "require_infrastructure_encryption": True,
            "services": {
                "blob": {"enabled": True, "key_type": storage.KeyType.ACCOUNT},
                "file": {"enabled": True, "key_type": storage.KeyType.ACCOUNT},
            },
        },
        immutable_storage_with_versioning=settings.immutability,
        tags=ctx.tags,
        opts=scope.opts(
            stateful=True, depends_on=list(keys.grants), ignore_changes=list(settings.ignore_changes) or None
        ),
    )
    lock_against_deletion(scope, settings.part, account.id)
    storage.BlobServiceProperties(
        ctx.name(f"{settings.part}-blob-service"),
        account_name=account.name,
        resource_group_name=scope.group_name,
        blob_services_name="default",
        is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
        container_delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
        cors={
            "cors_rules": [
                {
                    "allowed_origins": [settings.cors_origin],
                    "allowed_methods": CORS_METHODS,
                    "allowed_headers": CORS_HEADERS,
                    "exposed_headers": ["etag", "x-ms-request-id", "x-ms-version-id"],
                    "max_age_in_seconds": CORS_MAX_AGE_SECONDS,
                }
            ]
            if settings.cors_origin
            else []
        },
        opts=scope.opts(),
    )
    return account


@dataclass(frozen=True)
class StorageArgs:
    cors_origin: str  # the gateway's origin (https://<hostname>)
    allowed_cidrs: tuple[ipaddress.IPv4Network, ...]  # the ingress allow list: who may use signed URLs directly
    site: PrivateLinkSite
    encryption: AccountEncryption
    gateway_principal_id: pulumi.Input[str]  # the gateway's managed identity: the platform identity
    byob_container: str | None = None  # the customer's `<account>/<container>`; None: the stack's own account


def data_network(
    allowed_cidrs: Sequence[ipaddress.IPv4Network],
) -> tuple[storage.PublicNetworkAccess, storage.NetworkRuleSetArgsDict]:
    """The data account is closed at network level by default ("Configure Azure Storage firewalls and virtual
    networks": with `defaultAction` Allow every network reaches the account,
    https://learn.microsoft.com/azure/storage/common/storage-network-security): the gateway reaches it through
    its private endpoint, and public access, when there is an ingress allow list, admits those ranges only
    (browsers use signed URLs from them). Without an allow list the public endpoint is off altogether: signed
    URLs then work from networks that reach the private endpoint (the tenant network, a peering, Private Link)."""
    rules: storage.NetworkRuleSetArgsDict = {
        "default_action": storage.DefaultAction.DENY,
        "bypass": storage.Bypass.AZURE_SERVICES,
        "ip_rules": firewall_ip_rules(allowed_cidrs),
    }
    access = storage.PublicNetworkAccess.ENABLED if allowed_cidrs else storage.PublicNetworkAccess.DISABLED
    return access, rules


class TenantStorage(PartComponent):
    part = Part.STORAGE
    wiring: StorageWiring
    account: storage.StorageAccount | None  # None for BYOB

    def __init__(self, scope: AzureContext, args: StorageArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        identity = pulumi.Output.from_input(args.gateway_principal_id)
        if args.byob_container is not None:
            self.wiring = StorageWiring(
                bucket=pulumi.Output.from_input(args.byob_container), platform_identity=identity
            )
            self.account = None
            self.publish(bucket=self.wiring.bucket, platformIdentity=identity)
            return
        access, rules = data_network(args.allowed_cidrs)
        self.account = account = secure_account(
            scope,
            args.encryption,
            AccountSettings(
                part="data",
                public_network_access=access,
                network_rules=rules,
                allow_shared_key_access=False,
                cors_origin=args.cors_origin,
            ),
        )
        private_endpoint(
            scope, args.site, "data-endpoint", target_id=account.id, group_id="blob", zone=BLOB_PRIVATE_DNS_ZONE
        )
        container = storage.BlobContainer(
            ctx.name("data-container"),
            container_name=DATA_CONTAINER,
            account_name=account.name,
            resource_group_name=scope.group_name,
            public_access=storage.PublicAccess.NONE,
            opts=scope.opts(stateful=True),
        )
        grant_role(
            scope,
            "gateway-blob-access",
            principal_id=args.gateway_principal_id,
            role=ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
            on=account.id,
        )
        self.wiring = StorageWiring(
            bucket=pulumi.Output.concat(account.name, "/", container.name), platform_identity=identity
        )
        self.publish(bucket=self.wiring.bucket, platformIdentity=identity)
