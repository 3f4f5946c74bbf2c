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
from infra.azure.network import TenantNetwork, private_endpoint

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
    KMS plugin pins one; MySQL and storage use the versionless id and follow rotations."""
    match = _KEY_ID.match(key_id.strip())
    if match is None:
        raise ValueError(
            "customer_managed_key must be a Key Vault key id with its version: "
            f"https://<vault>.vault.azure.net/keys/<name>/<32-hex version>; got {key_id!r}"
        )
    return KeyReference(vault_uri=match.group("vault"), name=match.group("name"), version=match.group("version"))


@dataclass(frozen=True)
class TenantKeys:
    key_id: pulumi.Output[str]  # versionless: services that accept it follow rotations
    key_id_with_version: pulumi.Output[str]  # for AKS KMS, which needs a pinned version
    key_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    vault: keyvault.Vault | None  # None when the customer's key is used
    encryption_identity: managedidentity.UserAssignedIdentity
    grants: tuple[pulumi.Resource, ...]  # resources using the key must wait for these


def _tenant_vault(scope: AzureContext, net: TenantNetwork, tenant_id: pulumi.Input[str]) -> keyvault.Vault:
    ctx = scope.ctx
    vault = keyvault.Vault(
        ctx.name("kv"),
        vault_name=global_name(ctx.spec.name, "kv", max_length=24),
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
        scope, net, "kv-endpoint", target_id=vault.id, group_id="vault", zone="privatelink.vaultcore.azure.net"
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


def build_keys(scope: AzureContext, net: TenantNetwork) -> TenantKeys:
    ctx = scope.ctx
    identity = managedidentity.UserAssignedIdentity(
        ctx.name("encryption-identity"),
        resource_name_=ctx.name("encryption-identity"),
        resource_group_name=scope.group_name,
        location=scope.location,
        tags=ctx.tags,
        opts=scope.opts(),
    )
    if ctx.spec.customer_managed_key is not None:
        # The customer grants this identity "Key Vault Crypto Service Encryption User" on their vault.
        ref = parse_key_id(ctx.spec.customer_managed_key)
        return TenantKeys(
            key_id=pulumi.Output.from_input(ref.versionless_id),
            key_id_with_version=pulumi.Output.from_input(ref.versioned_id),
            key_name=pulumi.Output.from_input(ref.name),
            vault_uri=pulumi.Output.from_input(ref.vault_uri),
            vault=None,
            encryption_identity=identity,
            grants=(),
        )
    vault = _tenant_vault(scope, net, identity.tenant_id)
    key = _tenant_key(scope, vault)
    grant = grant_role(
        scope,
        "encryption-identity-key-access",
        principal_id=identity.principal_id,
        role=ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
        on=vault.id,
    )
    return TenantKeys(
        key_id=key.key_uri,
        key_id_with_version=key.key_uri_with_version,
        key_name=key.name,
        # From the key's id rather than the vault's nested properties: one computed output to depend on.
        vault_uri=key.key_uri.apply(lambda uri: uri.split("/keys/")[0]),
        vault=vault,
        encryption_identity=identity,
        grants=(grant,),
    )
