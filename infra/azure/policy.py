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
MANAGED_REDIS = f"{_T}redisenterprise:RedisEnterprise"
MANAGED_REDIS_DATABASE = f"{_T}redisenterprise:Database"
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
    MANAGED_REDIS,
    MANAGED_REDIS_DATABASE,
    STORAGE_ACCOUNT,
    BLOB_CONTAINER,
    KEY_VAULT,
    KEY,
)
INTERNET_SOURCES = frozenset({"*", "0.0.0.0/0", "internet", "any"})
TLS_PORT = "443"
WEAK_TLS = frozenset({"TLSv1", "TLSv1.0", "TLSv1.1"})


# ------------------------------------------------------------------------------------- no public data


def mysql_backups_kept(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    days = input_at(view.inputs, "backup.backupRetentionDays")
    if not isinstance(days, int | float) or days < MIN_BACKUP_DAYS:
        kept = "the default number of" if days is None else str(days)
        yield f"MySQL keeps backups {kept} days; set backup.backupRetentionDays >= {MIN_BACKUP_DAYS}"
    yield from protected_while_required(view, ctx)


def mysql_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if input_at(view.inputs, "network.publicNetworkAccess") != "Disabled":
        yield "MySQL server allows public network access; set network.publicNetworkAccess to Disabled"
    if not input_at(view.inputs, "network.delegatedSubnetResourceId"):
        yield "MySQL server is not VNet-injected; set network.delegatedSubnetResourceId to the database subnet"


def firewall_rule_forbidden(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    yield (
        f"firewall rule {view.name!r} opens a data service to IP addresses outside the VNet; "
        "remove it and connect through the private subnet or private endpoint"
    )


def redis_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("publicNetworkAccess") != "Disabled":
        yield "Redis cache allows public network access; set publicNetworkAccess to Disabled and use a private endpoint"


def storage_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """No anonymous access, and closed at network level: the account's firewall denies by default
    (`networkRuleSet.defaultAction` Deny; "Configure Azure Storage firewalls and virtual networks": the default
    action Allow admits every network, https://learn.microsoft.com/azure/storage/common/storage-network-security),
    and its IP rules admit nothing beyond the tenant's allow list."""
    if view.inputs.get("allowBlobPublicAccess") is not False:
        yield "storage account may allow anonymous blob access; set allowBlobPublicAccess to false"
    if view.inputs.get("publicNetworkAccess") == "Disabled":
        return
    rules = view.inputs.get("networkRuleSet") or {}
    if rules.get("defaultAction") != "Deny":
        yield (
            "storage account admits every network (networkRuleSet.defaultAction is not Deny); deny by default and "
            "reach it through its private endpoint"
        )
    addresses = [str(r.get("iPAddressOrRange")) for r in rules.get("ipRules") or [] if isinstance(r, Mapping)]
    if addresses and (beyond := cidrs.outside(addresses, ctx.trusted_cidrs)):
        yield f"storage account firewall admits {beyond}, beyond the tenant's allow list"


def container_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    access = view.inputs.get("publicAccess")
    if access not in (None, "None"):
        yield f"blob container has anonymous {access} access; set publicAccess to None"


def vault_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    properties = view.inputs.get("properties") or {}
    if (
        properties.get("publicNetworkAccess") != "Disabled"
        and input_at(properties, "networkAcls.defaultAction") != "Deny"
    ):
        yield (
            "Key Vault is reachable from any network; "
            "set publicNetworkAccess Disabled or networkAcls.defaultAction Deny"
        )


def managed_redis_not_public(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """Azure Managed Redis takes `publicNetworkAccess` Enabled or Disabled (the RedisEnterprise API's required
    property); the tenant's cache is reached through its private endpoint only."""
    if view.inputs.get("publicNetworkAccess") != "Disabled":
        yield "Azure Managed Redis allows public network access; set publicNetworkAccess to Disabled"


# ------------------------------------------------------------------------------------- encryption at rest


def mysql_tenant_key(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    encryption = view.inputs.get("dataEncryption") or {}
    if encryption.get("type") != "AzureKeyVault" or not encryption.get("primaryKeyURI"):
        yield "MySQL server is not encrypted with the tenant key; set dataEncryption (AzureKeyVault, primaryKeyURI)"
    if not encryption.get("primaryUserAssignedIdentityId"):
        yield "MySQL data encryption names no identity; set dataEncryption.primaryUserAssignedIdentityId"


def storage_tenant_key(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    encryption = view.inputs.get("encryption") or {}
    if encryption.get("keySource") != "Microsoft.Keyvault" or not input_at(encryption, "keyVaultProperties.keyName"):
        yield (
            "storage account is not encrypted with the tenant key; "
            "set encryption.keySource Microsoft.Keyvault and encryption.keyVaultProperties"
        )
    if encryption.get("requireInfrastructureEncryption") is not True:
        yield "storage account lacks infrastructure (double) encryption; set encryption.requireInfrastructureEncryption"


def cluster_secrets_tenant_key(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    kms = input_at(view.inputs, "securityProfile.azureKeyVaultKms") or {}
    if kms.get("enabled") is not True or not kms.get("keyId"):
        yield (
            "AKS secrets in etcd are not encrypted with the tenant key; "
            "enable securityProfile.azureKeyVaultKms with keyId"
        )


def managed_redis_tenant_key(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """Azure Managed Redis encrypts its disks (persistence, OS) with a customer key through a user-assigned
    identity ("Configure disk encryption for Azure Managed Redis instances using customer managed keys",
    https://learn.microsoft.com/azure/redis/how-to-encryption)."""
    cmk = input_at(view.inputs, "encryption.customerManagedKeyEncryption") or {}
    if not cmk.get("keyEncryptionKeyUrl"):
        yield "Azure Managed Redis is not encrypted with the tenant key; set encryption.customerManagedKeyEncryption"
    if not input_at(cmk, "keyEncryptionKeyIdentity.userAssignedIdentityResourceId"):
        yield "Azure Managed Redis key encryption names no user-assigned identity; set keyEncryptionKeyIdentity"


def key_rotates(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    actions = input_at(view.inputs, "properties.rotationPolicy.lifetimeActions") or []
    if not any(input_at(a, "action.type") in ("rotate", "Rotate") for a in actions):
        yield "Key Vault key has no automatic rotation; add a rotationPolicy lifetime action of type rotate"


# ------------------------------------------------------------------------------------- TLS in transit


def redis_tls_only(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("enableNonSslPort") is True:
        yield "Redis plaintext port 6379 is on; set enableNonSslPort to false"
    if view.inputs.get("minimumTlsVersion") not in ("1.2", "1.3"):
        yield "Redis accepts TLS older than 1.2; set minimumTlsVersion to 1.2"


def managed_redis_tls(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("minimumTlsVersion") not in (None, "1.2", "1.3"):
        yield "Azure Managed Redis accepts TLS older than 1.2; set minimumTlsVersion to 1.2"


def managed_redis_database_tls(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """`clientProtocol` Plaintext opens the database without TLS (the default is Encrypted)."""
    if view.inputs.get("clientProtocol", "Encrypted") != "Encrypted":
        yield "Azure Managed Redis database accepts plaintext clients; set clientProtocol to Encrypted"


def mysql_parameter_tls(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    name, value = view.inputs.get("configurationName"), str(view.inputs.get("value", ""))
    if name == "require_secure_transport" and value.upper() != "ON":
        yield "MySQL require_secure_transport is off; set it to ON"
    if name == "tls_version" and {v.strip() for v in value.split(",")} & WEAK_TLS:
        yield f"MySQL tls_version {value!r} allows TLS 1.0/1.1; use TLSv1.2,TLSv1.3"


def storage_https_only(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("enableHttpsTrafficOnly") is False:
        yield "storage account accepts plain HTTP; set enableHttpsTrafficOnly to true"
    if view.inputs.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        yield "storage account accepts TLS older than 1.2; set minimumTlsVersion to TLS1_2"


# ------------------------------------------------------------------------------------- deletion protection


def protected_while_required(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if ctx.deletion_protection and not view.protect:
        yield "stateful resource is not protected while deletion protection is on; create it with protect=True"


def vault_purge_protected(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    properties = view.inputs.get("properties") or {}
    if properties.get("enablePurgeProtection") is not True or properties.get("enableSoftDelete") is False:
        yield "Key Vault can be purged; set enableSoftDelete and enablePurgeProtection to true"
    yield from protected_while_required(view, ctx)


# ------------------------------------------------------------------------------------- private cluster


def cluster_endpoint_private(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    profile = view.inputs.get("apiServerAccessProfile") or {}
    if profile.get("enablePrivateCluster") is True:
        if profile.get("enablePrivateClusterPublicFQDN") is True:
            yield "private AKS cluster publishes a public FQDN; set enablePrivateClusterPublicFQDN to false"
        return
    ranges = [str(r) for r in profile.get("authorizedIPRanges") or []]
    beyond = cidrs.outside(ranges, ctx.cluster_api_cidrs) if ranges else "every address"
    if beyond:
        yield f"AKS API server is public to {beyond}; set apiServerAccessProfile.enablePrivateCluster"


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


def security_group_open_ingress(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    for rule in view.inputs.get("securityRules") or []:
        if problem := _open_rule_problem(rule, ctx):
            yield problem


def security_rule_open_ingress(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if problem := _open_rule_problem({"name": view.name, **view.inputs}, ctx):
        yield problem


def cluster_nodes_private(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    public = [p.get("name") for p in view.inputs.get("agentPoolProfiles") or [] if p.get("enableNodePublicIP")]
    if public:
        yield f"node pools {public} give nodes public IPs; set enableNodePublicIP to false"


# ------------------------------------------------------------------------------------- nothing shared


def private_link_restricted(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """`visibility.subscriptions` and `autoApproval.subscriptions` take subscription ids, and `*` means every
    subscription (https://learn.microsoft.com/azure/private-link/private-link-service-overview#control-service-exposure).
    Visibility is limited to the spec's consumers; auto-approval is never granted, so a connection from even a
    listed subscription waits for an explicit approval."""
    visible = [str(s) for s in input_at(view.inputs, "visibility.subscriptions") or []]
    approved = [str(s) for s in input_at(view.inputs, "autoApproval.subscriptions") or []]
    if not visible or "*" in visible:
        yield "Private Link service is visible to every subscription; list the tenant's consumers in visibility"
    elif beyond := sorted(set(visible) - set(ctx.private_link_consumers)):
        yield f"Private Link service is visible to {beyond}, not among the spec's private_link_consumers"
    if approved:
        yield (
            f"Private Link service auto-approves {approved}; leave autoApproval empty so every private "
            "connection is approved by hand (docs/tenant-stack.md)"
        )


def peering_without_transit(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    transit = [k for k in ("allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways") if view.inputs.get(k)]
    if transit:
        yield f"peering passes traffic on to other networks ({', '.join(transit)}); set them to false"


def _role_id(view: ResourceView) -> str:
    return str(view.inputs.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()


def role_not_privileged(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    role, scope = _role_id(view), str(view.inputs.get("scope", ""))
    if role in PRIVILEGED_ROLES and (scope == UNKNOWN or _BROAD_SCOPE.match(scope)):
        yield (
            f"assigns {PRIVILEGED_ROLES[role]} at {scope!r} (resource group or wider); "
            "assign a data-plane role on the one resource that needs it"
        )


def storage_not_cross_tenant(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("allowCrossTenantReplication") is not False:
        yield "storage account may replicate to other Entra tenants; set allowCrossTenantReplication to false"


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
    Reference(MANAGED_REDIS, "encryption.customerManagedKeyEncryption.keyEncryptionKeyUrl", (KEY,), "the tenant key"),
)
OWN_REFERENCES = (
    Reference(DIAGNOSTIC_SETTING, "storageAccountId", (STORAGE_ACCOUNT,), "a tenant storage account"),
    Reference(FLOW_LOG, "storageId", (STORAGE_ACCOUNT,), "a tenant storage account"),
    Reference(MANAGED_REDIS_DATABASE, "clusterName", (MANAGED_REDIS,), "the tenant's Azure Managed Redis"),
)
AUDITED = (MYSQL_SERVER, KEY_VAULT, MANAGED_CLUSTER, REDIS, MANAGED_REDIS_DATABASE)
# Built-in roles that act on the cluster's Kubernetes API (Azure RBAC for Kubernetes authorization) or hand out
# its kubeconfig, by id ("Azure built-in roles", Containers:
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers).
AKS_ROLES = {
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b": "Azure Kubernetes Service RBAC Cluster Admin",
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "Azure Kubernetes Service Cluster User Role",
}
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


def _role_principals_own(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """Every role assignment goes to one of the stack's managed identities, with one narrow exception: the
    cluster's Kubernetes roles (AKS_ROLES, on the stack's own cluster) may also go to the spec's operator groups
    and to one further principal, the identity that runs `pulumi up` (its object id is read at deployment time
    and known to no spec). A second such principal, or any other role for it, is a grant outside the tenant."""
    clusters = graph.identifiers(MANAGED_CLUSTER)
    deployers: set[str] = set()
    for view in graph.of_type(ROLE_ASSIGNMENT):
        principal = view.inputs.get("principalId")
        if graph.refers_to(view, "principalId", principal, IDENTITY):
            continue
        scope = view.inputs.get("scope")
        on_cluster = _role_id(view) in AKS_ROLES and (
            scope in clusters or (scope == UNKNOWN and graph.depends_on(view, "scope", MANAGED_CLUSTER))
        )
        if on_cluster and principal in ctx.operator_principals:
            continue
        if on_cluster and isinstance(principal, str) and len(deployers | {principal}) <= 1:
            deployers.add(principal)
            continue
        yield violation(
            Rule.NO_CROSS_TENANT_SHARING,
            view,
            f"assigns a role to {principal!r}, which is not a managed identity of this stack, an operator group of "
            "the spec (azure_operator_group_ids) or the deploying identity on the stack's cluster",
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


def _checks() -> dict[Rule, dict[str, ResourceCheck]]:
    protected: dict[str, ResourceCheck] = dict.fromkeys(STATEFUL_TYPES, protected_while_required)
    return {
        Rule.NO_PUBLIC_DATA: {
            MYSQL_SERVER: mysql_not_public,
            MYSQL_FIREWALL_RULE: firewall_rule_forbidden,
            REDIS: redis_not_public,
            REDIS_FIREWALL_RULE: firewall_rule_forbidden,
            MANAGED_REDIS: managed_redis_not_public,
            STORAGE_ACCOUNT: storage_not_public,
            BLOB_CONTAINER: container_not_public,
            KEY_VAULT: vault_not_public,
        },
        Rule.ENCRYPTION_AT_REST: {
            MYSQL_SERVER: mysql_tenant_key,
            STORAGE_ACCOUNT: storage_tenant_key,
            MANAGED_CLUSTER: cluster_secrets_tenant_key,
            MANAGED_REDIS: managed_redis_tenant_key,
            KEY: key_rotates,
        },
        Rule.TLS_IN_TRANSIT: {
            REDIS: redis_tls_only,
            MANAGED_REDIS: managed_redis_tls,
            MANAGED_REDIS_DATABASE: managed_redis_database_tls,
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
        "redisenterprise:RedisEnterprise",
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
        _role_principals_own,
        _archive_immutable,
    ),
)
