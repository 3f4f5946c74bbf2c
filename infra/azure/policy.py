"""What each mandatory rule means for the Azure resource types a tenant stack creates (or that a hand-edited
program might create wrongly). Checks read the camelCase inputs a pulumi-policy validator sees."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from infra.policy.model import CloudRules, PolicyContext, ResourceCheck, ResourceView, Rule, input_at

_T = "azure-native:"
MYSQL_SERVER = f"{_T}dbformysql:Server"
MYSQL_FIREWALL_RULE = f"{_T}dbformysql:FirewallRule"
MYSQL_CONFIGURATION = f"{_T}dbformysql:Configuration"
REDIS = f"{_T}redis:Redis"
REDIS_FIREWALL_RULE = f"{_T}redis:FirewallRule"
STORAGE_ACCOUNT = f"{_T}storage:StorageAccount"
BLOB_CONTAINER = f"{_T}storage:BlobContainer"
KEY_VAULT = f"{_T}keyvault:Vault"
KEY = f"{_T}keyvault:Key"
MANAGED_CLUSTER = f"{_T}containerservice:ManagedCluster"
SECURITY_GROUP = f"{_T}network:NetworkSecurityGroup"
SECURITY_RULE = f"{_T}network:SecurityRule"
PRIVATE_LINK_SERVICE = f"{_T}network:PrivateLinkService"
PEERING = f"{_T}network:VirtualNetworkPeering"
ROLE_ASSIGNMENT = f"{_T}authorization:RoleAssignment"
RESOURCE_GROUP = f"{_T}resources:ResourceGroup"

STATEFUL_TYPES = (
    RESOURCE_GROUP,
    MYSQL_SERVER,
    f"{_T}dbformysql:Database",
    REDIS,
    STORAGE_ACCOUNT,
    BLOB_CONTAINER,
    KEY_VAULT,
    KEY,
)
INTERNET_SOURCES = frozenset({"*", "0.0.0.0/0", "internet", "any"})
TLS_PORT = "443"
WEAK_TLS = frozenset({"TLSv1", "TLSv1.0", "TLSv1.1"})


# ------------------------------------------------------------------------------------- no public data


def mysql_not_public(view: ResourceView, ctx: PolicyContext) -> str | None:
    if input_at(view.inputs, "network.publicNetworkAccess") != "Disabled":
        return "MySQL server allows public network access; set network.publicNetworkAccess to Disabled"
    if not input_at(view.inputs, "network.delegatedSubnetResourceId"):
        return "MySQL server is not VNet-injected; set network.delegatedSubnetResourceId to the database subnet"
    return None


def firewall_rule_forbidden(view: ResourceView, ctx: PolicyContext) -> str | None:
    return (
        f"firewall rule {view.name!r} opens a data service to IP addresses outside the VNet; "
        "remove it and connect through the private subnet or private endpoint"
    )


def redis_not_public(view: ResourceView, ctx: PolicyContext) -> str | None:
    if view.inputs.get("publicNetworkAccess") != "Disabled":
        return (
            "Redis cache allows public network access; set publicNetworkAccess to Disabled and use a private endpoint"
        )
    return None


def storage_not_public(view: ResourceView, ctx: PolicyContext) -> str | None:
    if view.inputs.get("allowBlobPublicAccess") is not False:
        return "storage account may allow anonymous blob access; set allowBlobPublicAccess to false"
    return None


def container_not_public(view: ResourceView, ctx: PolicyContext) -> str | None:
    access = view.inputs.get("publicAccess")
    if access not in (None, "None"):
        return f"blob container has anonymous {access} access; set publicAccess to None"
    return None


def vault_not_public(view: ResourceView, ctx: PolicyContext) -> str | None:
    properties = view.inputs.get("properties") or {}
    if (
        properties.get("publicNetworkAccess") != "Disabled"
        and input_at(properties, "networkAcls.defaultAction") != "Deny"
    ):
        return (
            "Key Vault is reachable from any network; "
            "set publicNetworkAccess Disabled or networkAcls.defaultAction Deny"
        )
    return None


# ------------------------------------------------------------------------------------- encryption at rest


def mysql_tenant_key(view: ResourceView, ctx: PolicyContext) -> str | None:
    encryption = view.inputs.get("dataEncryption") or {}
    if encryption.get("type") != "AzureKeyVault" or not encryption.get("primaryKeyURI"):
        return "MySQL server is not encrypted with the tenant key; set dataEncryption (AzureKeyVault, primaryKeyURI)"
    if not encryption.get("primaryUserAssignedIdentityId"):
        return "MySQL data encryption names no identity; set dataEncryption.primaryUserAssignedIdentityId"
    return None


def storage_tenant_key(view: ResourceView, ctx: PolicyContext) -> str | None:
    encryption = view.inputs.get("encryption") or {}
    if encryption.get("keySource") != "Microsoft.Keyvault" or not input_at(encryption, "keyVaultProperties.keyName"):
        return (
            "storage account is not encrypted with the tenant key; "
            "set encryption.keySource Microsoft.Keyvault and encryption.keyVaultProperties"
        )
    if encryption.get("requireInfrastructureEncryption") is not True:
        return (
            "storage account lacks infrastructure (double) encryption; set encryption.requireInfrastructureEncryption"
        )
    return None


def cluster_secrets_tenant_key(view: ResourceView, ctx: PolicyContext) -> str | None:
    kms = input_at(view.inputs, "securityProfile.azureKeyVaultKms") or {}
    if kms.get("enabled") is not True or not kms.get("keyId"):
        return (
            "AKS secrets in etcd are not encrypted with the tenant key; "
            "enable securityProfile.azureKeyVaultKms with keyId"
        )
    return None


def key_rotates(view: ResourceView, ctx: PolicyContext) -> str | None:
    actions = input_at(view.inputs, "properties.rotationPolicy.lifetimeActions") or []
    if not any(input_at(a, "action.type") in ("rotate", "Rotate") for a in actions):
        return "Key Vault key has no automatic rotation; add a rotationPolicy lifetime action of type rotate"
    return None


# ------------------------------------------------------------------------------------- TLS in transit


def redis_tls_only(view: ResourceView, ctx: PolicyContext) -> str | None:
    if view.inputs.get("enableNonSslPort") is True:
        return "Redis plaintext port 6379 is on; set enableNonSslPort to false"
    if view.inputs.get("minimumTlsVersion") not in ("1.2", "1.3"):
        return "Redis accepts TLS older than 1.2; set minimumTlsVersion to 1.2"
    return None


def mysql_parameter_tls(view: ResourceView, ctx: PolicyContext) -> str | None:
    name, value = view.inputs.get("configurationName"), str(view.inputs.get("value", ""))
    if name == "require_secure_transport" and value.upper() != "ON":
        return "MySQL require_secure_transport is off; set it to ON"
    if name == "tls_version" and {v.strip() for v in value.split(",")} & WEAK_TLS:
        return f"MySQL tls_version {value!r} allows TLS 1.0/1.1; use TLSv1.2,TLSv1.3"
    return None


def storage_https_only(view: ResourceView, ctx: PolicyContext) -> str | None:
    if view.inputs.get("enableHttpsTrafficOnly") is False:
        return "storage account accepts plain HTTP; set enableHttpsTrafficOnly to true"
    if view.inputs.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        return "storage account accepts TLS older than 1.2; set minimumTlsVersion to TLS1_2"
    return None


# ------------------------------------------------------------------------------------- deletion protection


def protected_while_required(view: ResourceView, ctx: PolicyContext) -> str | None:
    if ctx.deletion_protection and not view.protect:
        return "stateful resource is not protected while deletion protection is on; create it with protect=True"
    return None


def vault_purge_protected(view: ResourceView, ctx: PolicyContext) -> str | None:
    properties = view.inputs.get("properties") or {}
    if properties.get("enablePurgeProtection") is not True or properties.get("enableSoftDelete") is False:
        return "Key Vault can be purged; set enableSoftDelete and enablePurgeProtection to true"
    return protected_while_required(view, ctx)


# ------------------------------------------------------------------------------------- private cluster


def cluster_endpoint_private(view: ResourceView, ctx: PolicyContext) -> str | None:
    profile = view.inputs.get("apiServerAccessProfile") or {}
    if profile.get("enablePrivateCluster") is True:
        if profile.get("enablePrivateClusterPublicFQDN") is True:
            return "private AKS cluster publishes a public FQDN; set enablePrivateClusterPublicFQDN to false"
        return None
    ranges = [str(r) for r in profile.get("authorizedIPRanges") or []]
    if not ranges or any(r in INTERNET_SOURCES for r in ranges):
        return "AKS API server is public; set apiServerAccessProfile.enablePrivateCluster (or authorizedIPRanges)"
    return None


# ------------------------------------------------------------------------------------- open ingress


def _open_rule_problem(rule: Mapping[str, Any], ctx: PolicyContext) -> str | None:
    if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
        return None
    sources = [str(s) for s in [rule.get("sourceAddressPrefix"), *(rule.get("sourceAddressPrefixes") or [])] if s]
    name = rule.get("name", "?")
    if any(s.lower() in INTERNET_SOURCES for s in sources):
        if ctx.allowed_cidrs:
            return f"rule {name!r} allows the internet in; with an allow list, allow only {list(ctx.allowed_cidrs)}"
        ports = [rule.get("destinationPortRange"), *(rule.get("destinationPortRanges") or [])]
        if [p for p in ports if p] != [TLS_PORT]:
            return f"rule {name!r} allows the internet in on {[p for p in ports if p]}; only port 443 may be open"
        return None
    if ctx.allowed_cidrs:
        allowed = [ipaddress.ip_network(c) for c in ctx.allowed_cidrs]
        for source in sources:
            try:
                network = ipaddress.ip_network(source, strict=False)
            except ValueError:
                continue  # service tags (VirtualNetwork, AzureLoadBalancer) are not internet sources
            if network.is_global and not any(network.version == a.version and network.subnet_of(a) for a in allowed):  # type: ignore[arg-type]
                return f"rule {name!r} allows {source} in, outside the tenant's allow list {list(ctx.allowed_cidrs)}"
    return None


def security_group_open_ingress(view: ResourceView, ctx: PolicyContext) -> str | None:
    for rule in view.inputs.get("securityRules") or []:
        if problem := _open_rule_problem(rule, ctx):
            return problem
    return None


def security_rule_open_ingress(view: ResourceView, ctx: PolicyContext) -> str | None:
    return _open_rule_problem({"name": view.name, **view.inputs}, ctx)


def cluster_nodes_private(view: ResourceView, ctx: PolicyContext) -> str | None:
    public = [p.get("name") for p in view.inputs.get("agentPoolProfiles") or [] if p.get("enableNodePublicIP")]
    if public:
        return f"node pools {public} give nodes public IPs; set enableNodePublicIP to false"
    return None


# ------------------------------------------------------------------------------------- nothing shared


def private_link_restricted(view: ResourceView, ctx: PolicyContext) -> str | None:
    visible = [str(s) for s in input_at(view.inputs, "visibility.subscriptions") or []]
    approved = [str(s) for s in input_at(view.inputs, "autoApproval.subscriptions") or []]
    if not visible or "*" in visible:
        return "Private Link service is visible to every subscription; list the tenant's consumers in visibility"
    if "*" in approved or not set(approved) <= set(visible):
        return "Private Link service auto-approves beyond its consumers; list only visible subscriptions"
    return None


def peering_without_transit(view: ResourceView, ctx: PolicyContext) -> str | None:
    transit = [k for k in ("allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways") if view.inputs.get(k)]
    if transit:
        return f"peering passes traffic on to other networks ({', '.join(transit)}); set them to false"
    return None


def role_within_tenant(view: ResourceView, ctx: PolicyContext) -> str | None:
    scope = str(view.inputs.get("scope", ""))
    if f"/resourcegroups/{ctx.tenant}-".lower() not in scope.lower():
        return (
            f"role assignment scope {scope!r} is outside the tenant's resource group; "
            f"scope it to a resource of {ctx.tenant!r}"
        )
    return None


def storage_not_cross_tenant(view: ResourceView, ctx: PolicyContext) -> str | None:
    if view.inputs.get("allowCrossTenantReplication") is not False:
        return "storage account may replicate to other Entra tenants; set allowCrossTenantReplication to false"
    return None


def _checks() -> dict[Rule, dict[str, ResourceCheck]]:
    protected: dict[str, ResourceCheck] = dict.fromkeys(STATEFUL_TYPES, protected_while_required)
    return {
        Rule.NO_PUBLIC_DATA: {
            MYSQL_SERVER: mysql_not_public,
            MYSQL_FIREWALL_RULE: firewall_rule_forbidden,
            REDIS: redis_not_public,
            REDIS_FIREWALL_RULE: firewall_rule_forbidden,
            STORAGE_ACCOUNT: storage_not_public,
            BLOB_CONTAINER: container_not_public,
            KEY_VAULT: vault_not_public,
        },
        Rule.ENCRYPTION_AT_REST: {
            MYSQL_SERVER: mysql_tenant_key,
            STORAGE_ACCOUNT: storage_tenant_key,
            MANAGED_CLUSTER: cluster_secrets_tenant_key,
            KEY: key_rotates,
        },
        Rule.TLS_IN_TRANSIT: {
            REDIS: redis_tls_only,
            MYSQL_CONFIGURATION: mysql_parameter_tls,
            STORAGE_ACCOUNT: storage_https_only,
        },
        Rule.DELETION_PROTECTION: {**protected, KEY_VAULT: vault_purge_protected},
        Rule.PRIVATE_CLUSTER_ENDPOINT: {MANAGED_CLUSTER: cluster_endpoint_private},
        Rule.NO_OPEN_INGRESS: {
            SECURITY_GROUP: security_group_open_ingress,
            SECURITY_RULE: security_rule_open_ingress,
            MANAGED_CLUSTER: cluster_nodes_private,
        },
        Rule.NO_CROSS_TENANT_SHARING: {
            PRIVATE_LINK_SERVICE: private_link_restricted,
            PEERING: peering_without_transit,
            ROLE_ASSIGNMENT: role_within_tenant,
            STORAGE_ACCOUNT: storage_not_cross_tenant,
        },
    }


TAGGABLE_TYPES = frozenset(
    f"{_T}{t}"
    for t in (
        "resources:ResourceGroup",
        "network:VirtualNetwork",
        "network:NetworkSecurityGroup",
        "network:PublicIPAddress",
        "network:NatGateway",
        "network:PrivateEndpoint",
        "network:FlowLog",
        "network:PrivateLinkService",
        "privatedns:PrivateZone",
        "privatedns:VirtualNetworkLink",
        "keyvault:Vault",
        "keyvault:Key",
        "managedidentity:UserAssignedIdentity",
        "containerservice:ManagedCluster",
        "dbformysql:Server",
        "redis:Redis",
        "storage:StorageAccount",
    )
)

RULES = CloudRules(checks=_checks(), taggable_types=TAGGABLE_TYPES, tag_field="tags")
