"""The tenant key: a private Key Vault (RBAC, soft delete, purge protection) with a rotating RSA key, or the
customer's own Key Vault key (spec.customer_managed_key) used instead. A user-assigned identity, granted
only the encrypt/decrypt role on that key's vault, lets MySQL and storage use it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault, managedidentity

from infra.azure.common import (
    ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
    AzureContext,
    global_name,
    grant_role,
    lock_against_deletion,
)
from infra.azure.network import PrivateLinkSite, private_endpoint
from infra.cloud import Part, PartComponent

KEY_ROTATION_PERIOD = "P90D"  # ISO 8601 durations, as Key Vault rotation policies take them
KEY_EXPIRY = "P1Y"
KEY_EXPIRY_NOTICE = "P30D"
SOFT_DELETE_RETENTION_DAYS = 90

_KEY_ID = re.compile(
    r"^(?P<vault>https://[a-z0-9-]{3,24}\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net))"
    r"/keys/(?P<name>[A-Za-z0-9-]{1,127})/(?P<version>[0-9a-f]{32})$"
)


@dataclass(frozen=True)
class KeyReference:
    """A Key Vault key id split into the pieces each service asks for."""

    vault_uri: str
    name: str
    version: str

    @property
    def versionless_id(self) -> str:
        return f"{self.vault_uri}/keys/{self.name}"

    @property
    def versioned_id(self) -> str:
        return f"{self.versionless_id}/{self.version}"


def parse_key_id(key_id: str) -> KeyReference:
    """Parse `https://<vault>.vault.azure.net/keys/<name>/<version>`. The version is required because AKS's
    KMS plugin and Azure Managed Redis pin one; MySQL and storage use the versionless id and follow rotations."""
    match = _KEY_ID.match(key_id.strip())
    if match is None:
        raise ValueError(
            "customer_managed_key must be a Key Vault key id with its version: "
            f"https://<vault>.vault.azure.net/keys/<name>/<32-hex version>; got {key_id!r}"
        )
    return KeyReference(vault_uri=match.group("vault"), name=match.group("name"), version=match.group("version"))


@dataclass(frozen=True)
class KeysArgs:
    customer_managed_key: str | None  # the customer's Key Vault key id (with its version), used instead
    site: PrivateLinkSite  # where the vault's private endpoint goes


def _tenant_vault(scope: AzureContext, site: PrivateLinkSite, tenant_id: pulumi.Input[str]) -> keyvault.Vault:
    ctx = scope.ctx
    vault = keyvault.Vault(
        ctx.name("kv"),
        vault_name=global_name(scope.tenant, "kv", max_length=24),
        resource_group_name=scope.group_name,
        location=scope.location,
        properties={
            "tenant_id": tenant_id,
            "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": SOFT_DELETE_RETENTION_DAYS,
            "enable_purge_protection": True,
            "public_network_access": "Disabled",
            # Trusted Azure services (MySQL, Storage) still reach the key; everyone else needs the endpoint.
            "network_acls": {
                "default_action": keyvault.NetworkRuleAction.DENY,
                "bypass": keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
            },
        },
        tags=ctx.tags,
        opts=scope.opts(stateful=True),
    )
    lock_against_deletion(scope, "kv", vault.id)
    private_endpoint(
        scope, site, "kv-endpoint", target_id=vault.id, group_id="vault", zone="privatelink.vaultcore.azure.net"
    )
    return vault


def _tenant_key(scope: AzureContext, vault: keyvault.Vault) -> keyvault.Key:
    ctx = scope.ctx
    return keyvault.Key(
        ctx.name("key"),
        key_name=ctx.name("key"),
        vault_name=vault.name,
        resource_group_name=scope.group_name,
        properties={
            "kty": keyvault.JsonWebKeyType.RSA,
            "key_size": 3072,
            "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            "rotation_policy": {
                "attributes": {"expiry_time": KEY_EXPIRY},
                "lifetime_actions": [
                    {
                        "action": {"type": keyvault.KeyRotationPolicyActionType.ROTATE},
                        "trigger": {"time_after_create": KEY_ROTATION_PERIOD},
                    },
                    {
                        "action": {"type": keyvault.KeyRotationPolicyActionType.NOTIFY},
                        "trigger": {"time_before_expiry": KEY_EXPIRY_NOTICE},
                    },
                ],
            },
        },
        tags=ctx.tags,
        opts=scope.opts(stateful=True),
    )


def current_version(scope: AzureContext, key: keyvault.Key, vault: keyvault.Vault) -> pulumi.Output[str]:
    """The key's current version, read on every `pulumi up` ("Gets the current version of the specified key",
    Key Vault `Keys - Get`, the provider's `keyvault.getKey`), for the services that take only a versioned key:
    AKS's KMS plugin and Azure Managed Redis. The rotation policy adds a version every 90 days, and each version
    expires a year after it was made; a cluster left on the first version would stop decrypting etcd when it
    expires. Read this way, each `pulumi up` moves those services to the newest version, which AKS then re-wraps
    its data encryption keys with ("Rotate the existing keys", https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption)."""
    found = keyvault.get_key_output(
        key_name=key.name,
        resource_group_name=scope.group_name,
        vault_name=vault.name,
        opts=pulumi.InvokeOutputOptions(parent=scope.ctx.parent, provider=scope.provider),
    )
    return found.key_uri_with_version


class TenantKeys(PartComponent):
    part = Part.KEYS
    key_id: pulumi.Output[str]  # versionless: services that accept it (MySQL, storage) follow rotations
    key_id_with_version: pulumi.Output[str]  # the current version, for the services that need one pinned
    key_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    vault: keyvault.Vault | None  # None when the customer's key is used
    encryption_identity: managedidentity.UserAssignedIdentity
    grants: tuple[pulumi.Resource, ...]  # resources using the key must wait for these

    def __init__(self, scope: AzureContext, args: KeysArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        self.encryption_identity = identity = managedidentity.UserAssignedIdentity(
            ctx.name("encryption-identity"),
            resource_name_=ctx.name("encryption-identity"),
            resource_group_name=scope.group_name,
            location=scope.location,
            tags=ctx.tags,
            opts=scope.opts(),
        )
        if args.customer_managed_key is not None:
            # The customer grants this identity "Key Vault Crypto Service Encryption User" on their vault. Their
            # key's version is pinned by the spec: the customer rotates it and updates the spec.
            ref = parse_key_id(args.customer_managed_key)
            self.key_id = pulumi.Output.from_input(ref.versionless_id)
            self.key_id_with_version = pulumi.Output.from_input(ref.versioned_id)
            self.key_name = pulumi.Output.from_input(ref.name)
            self.vault_uri = pulumi.Output.from_input(ref.vault_uri)
            self.vault, self.grants = None, ()
        else:
            self.vault = vault = _tenant_vault(scope, args.site, identity.tenant_id)
            key = _tenant_key(scope, vault)
            grant = grant_role(
                scope,
                "encryption-identity-key-access",
                principal_id=identity.principal_id,
                role=ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
                on=vault.id,
            )
            self.key_id = key.key_uri
            self.key_id_with_version = current_version(scope, key, vault)
            self.key_name = key.name
            # From the key's id rather than the vault's nested properties: one computed output to depend on.
            self.vault_uri = key.key_uri.apply(lambda uri: uri.split("/keys/")[0])
            self.grants = (grant,)
        self.publish(keyId=self.key_id, encryptionIdentity=identity.id)
