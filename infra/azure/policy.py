"""What each mandatory rule means for the Azure resource types a tenant stack creates (or that a hand-edited
program might create wrongly). Checks read the camelCase inputs a pulumi-policy validator sees."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.policy import cidrs
from infra.policy.graph import Companion, Reference, companion_check, reference_check, tenant_key_check
from infra.policy.model import (
    UNKNOWN,
    CloudRules,
    Graph,
    PolicyContext,
    ResourceCheck,
    ResourceView,
    Rule,
    Violation,
    input_at,
    violation,
)

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
IDENTITY = f"{_T}managedidentity:UserAssignedIdentity"
DIAGNOSTIC_SETTING = f"{_T}monitor:DiagnosticSetting"
FLOW_LOG = f"{_T}network:FlowLog"
MIN_BACKUP_DAYS = 7
# Privileged administrator roles: they can grant access or do anything
# (https://learn.microsoft.com/azure/role-based-access-control/role-assignments-steps#privileged-administrator-roles;
# ids from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
}
# A scope at resource-group level or wider: "/", a management group, a subscription, a resource group.
_BROAD_SCOPE = re.compile(
    r"^(/|/providers/Microsoft\.Management/managementGroups/[^/]+|/subscriptions/[^/]+(/resourceGroups/[^/]+)?)/?$",
    re.IGNORECASE,
)
# Service tags that name the tenant's own network or Azure's load-balancer probe, not the internet
# (https://learn.microsoft.com/azure/virtual-network/service-tags-overview#available-service-tags).
INTERNAL_SERVICE_TAGS = frozenset({"virtualnetwork", "azureloadbalancer"})

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


def mysql_backups_kept(view: ResourceView, ctx: PolicyContext) -> str | None:
    days = input_at(view.inputs, "backup.backupRetentionDays")
    if not isinstance(days, int | float) or days < MIN_BACKUP_DAYS:
        return f"MySQL keeps backups {days or 'the default'} days; set backup.backupRetentionDays >= {MIN_BACKUP_DAYS}"
    return protected_while_required(view, ctx)


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
    beyond = cidrs.outside(ranges, ctx.cluster_api_cidrs) if ranges else "every address"
    if beyond:
        return f"AKS API server is public to {beyond}; set apiServerAccessProfile.enablePrivateCluster"
    return None


# ------------------------------------------------------------------------------------- open ingress


def _open_rule_problem(rule: Mapping[str, Any], ctx: PolicyContext) -> str | None:
    """Sources count as their union (`0.0.0.0/1` + `128.0.0.0/1` is the internet). `*`, `Internet` and
    `Any` mean every address; service tags other than VirtualNetwork and AzureLoadBalancer name address
    ranges outside the tenant (e.g. `AzureCloud`, every Azure customer), so they count as beyond the list."""
    if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
        return None
    sources = [str(s) for s in [rule.get("sourceAddressPrefix"), *(rule.get("sourceAddressPrefixes") or [])] if s]
    name = rule.get("name", "?")
    world = [s for s in sources if s.lower() in INTERNET_SOURCES]
    tags = [
        s for s in sources if s not in world and s.lower() not in INTERNAL_SERVICE_TAGS and cidrs.parse([s]) is None
    ]
    ranges = [s for s in sources if cidrs.parse([s]) is not None]
    beyond = ", ".join(
        b for b in (" ".join(world), " ".join(tags), cidrs.outside(ranges, ctx.trusted_cidrs) if ranges else "") if b
    )
    if not beyond:
        return None
    if ctx.allowed_cidrs:
        return f"rule {name!r} admits {beyond}, beyond the tenant's allow list {list(ctx.allowed_cidrs)}"
    ports = [p for p in [rule.get("destinationPortRange"), *(rule.get("destinationPortRanges") or [])] if p]
    if ports != [TLS_PORT]:
        return f"rule {name!r} admits {beyond} on {ports}; only the listener port 443 may be open beyond the tenant"
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
    """`visibility.subscriptions` and `autoApproval.subscriptions` take subscription ids, and `*` means every
    subscription (https://learn.microsoft.com/azure/private-link/private-link-service-overview#control-service-exposure).
    Visibility is limited to the spec's consumers; auto-approval is never granted, so a connection from even a
    listed subscription waits for an explicit approval."""
    visible = [str(s) for s in input_at(view.inputs, "visibility.subscriptions") or []]
    approved = [str(s) for s in input_at(view.inputs, "autoApproval.subscriptions") or []]
    if not visible or "*" in visible:
        return "Private Link service is visible to every subscription; list the tenant's consumers in visibility"
    if approved:
        return (
            f"Private Link service auto-approves {approved}; leave autoApproval empty so every private "
            "connection is approved by hand (docs/tenant-stack.md)"
        )
    if beyond := sorted(set(visible) - set(ctx.private_link_consumers)):
        return f"Private Link service is visible to {beyond}, not among the spec's private_link_consumers"
    return None


def peering_without_transit(view: ResourceView, ctx: PolicyContext) -> str | None:
    transit = [k for k in ("allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways") if view.inputs.get(k)]
    if transit:
        return f"peering passes traffic on to other networks ({', '.join(transit)}); set them to false"
    return None


def role_not_privileged(view: ResourceView, ctx: PolicyContext) -> str | None:
    role = str(view.inputs.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
    scope = str(view.inputs.get("scope", ""))
    if role in PRIVILEGED_ROLES and (scope == UNKNOWN or _BROAD_SCOPE.match(scope)):
        return (
            f"assigns {PRIVILEGED_ROLES[role]} at {scope!r} (resource group or wider); "
            "assign a data-plane role on the one resource that needs it"
        )
    return None


def _storage_key_uri(view: ResourceView) -> list[Any]:
    properties = input_at(view.inputs, "encryption.keyVaultProperties")
    if not isinstance(properties, Mapping):
        return []
    vault, key = properties.get("keyVaultUri"), properties.get("keyName")
    if UNKNOWN in (vault, key):
        return [UNKNOWN]
    return [f"{str(vault).rstrip('/')}/keys/{key}"]


TENANT_KEY_REFERENCES = (
    Reference(MYSQL_SERVER, "dataEncryption.primaryKeyURI", (KEY,), "the tenant key"),
    Reference(MANAGED_CLUSTER, "securityProfile.azureKeyVaultKms.keyId", (KEY,), "the tenant key"),
    Reference(STORAGE_ACCOUNT, "encryption.keyVaultProperties", (KEY,), "the tenant key", _storage_key_uri),
)
OWN_REFERENCES = (
    Reference(ROLE_ASSIGNMENT, "principalId", (IDENTITY,), "a tenant managed identity"),
    Reference(DIAGNOSTIC_SETTING, "storageAccountId", (STORAGE_ACCOUNT,), "a tenant storage account"),
    Reference(FLOW_LOG, "storageId", (STORAGE_ACCOUNT,), "a tenant storage account"),
)
AUDITED = (MYSQL_SERVER, KEY_VAULT, MANAGED_CLUSTER, REDIS)
DIAGNOSTIC_COMPANIONS = tuple(
    Companion(Rule.AUDIT_TRAIL, owner, DIAGNOSTIC_SETTING, "resourceUri", "diagnostic setting exporting its audit logs")
    for owner in AUDITED
)


def _within_tenant_group(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """A role assignment's scope is the tenant's resource group or a resource inside it, by the group's id:
    `.../resourceGroups/acme-corp-rg` is another tenant's even though it starts with `acme-`."""
    groups = [str(g.state.get("id")) for g in graph.of_type(RESOURCE_GROUP) if g.state.get("id") not in (None, UNKNOWN)]
    for view in graph.of_type(ROLE_ASSIGNMENT):
        scope = str(view.inputs.get("scope", ""))
        if scope == UNKNOWN and graph.depends_on(view, "scope", *{v.type for v in graph.views}):
            continue
        if not any(scope.lower() == g.lower() or scope.lower().startswith(f"{g.lower()}/") for g in groups):
            yield violation(
                Rule.NO_CROSS_TENANT_SHARING,
                view,
                f"role assignment scope {scope!r} is outside the tenant's resource group",
            )


def _archive_immutable(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """Audit logs go to a storage account with version-level immutability
    (https://learn.microsoft.com/azure/storage/blobs/immutable-storage-overview)."""
    immutable = {
        i
        for a in graph.of_type(STORAGE_ACCOUNT)
        if input_at(a.inputs, "immutableStorageWithVersioning.enabled") is True
        for i in graph.identifiers_of(a)
    }
    for view in graph.of_type(DIAGNOSTIC_SETTING):
        if view.inputs.get("storageAccountId") not in immutable:
            yield violation(Rule.AUDIT_TRAIL, view, "exports audit logs to a storage account without immutability")


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
        Rule.DELETION_PROTECTION: {**protected, KEY_VAULT: vault_purge_protected, MYSQL_SERVER: mysql_backups_kept},
        Rule.PRIVATE_CLUSTER_ENDPOINT: {MANAGED_CLUSTER: cluster_endpoint_private},
        Rule.NO_OPEN_INGRESS: {
            SECURITY_GROUP: security_group_open_ingress,
            SECURITY_RULE: security_rule_open_ingress,
            MANAGED_CLUSTER: cluster_nodes_private,
        },
        Rule.NO_CROSS_TENANT_SHARING: {
            PRIVATE_LINK_SERVICE: private_link_restricted,
            PEERING: peering_without_transit,
            STORAGE_ACCOUNT: storage_not_cross_tenant,
        },
        Rule.LEAST_PRIVILEGE: {ROLE_ASSIGNMENT: role_not_privileged},
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

RULES = CloudRules(
    checks=_checks(),
    taggable_types=TAGGABLE_TYPES,
    tag_field="tags",
    graph_checks=(
        tenant_key_check(TENANT_KEY_REFERENCES),
        reference_check(Rule.NO_CROSS_TENANT_SHARING, OWN_REFERENCES, lambda ctx: ()),
        companion_check(DIAGNOSTIC_COMPANIONS),
        _within_tenant_group,
        _archive_immutable,
    ),
)
