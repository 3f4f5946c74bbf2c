"""The Azure policy: the stacks this module builds pass every check, and each check catches what it guards."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from azure_harness import CMK, CONSUMER, PEER_SUBSCRIPTION, PEER_VNET, AzureRun, make_spec

from infra.azure.policy import RULES, STATEFUL_TYPES
from infra.policy.engine import context_for, view_of
from infra.policy.model import PolicyContext, ResourceView, Rule
from tests.infra.cloud_harness import found

Runner = Callable[..., AzureRun]
CTX = PolicyContext(
    tenant="acme",
    deletion_protection=True,
    allowed_cidrs=(),
    own_cidrs=("10.20.0.0/16",),
    private_link_consumers=(CONSUMER,),
)
LISTED = replace(CTX, allowed_cidrs=("203.0.113.0/24",))
OWNER = (
    "/subscriptions/123456789012/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
)
USER_ACCESS_ADMIN = "/providers/Microsoft.Authorization/roleDefinitions/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
T = "azure-native:"

VARIANTS: dict[str, dict[str, Any]] = {
    "small": {},
    "medium": {"size": "medium"},
    "large": {"size": "large"},
    "allow-list": {"connectivity": {"allowed_cidrs": ["203.0.113.0/24"]}},
    "private-link": {
        "connectivity": {"public_ingress": False, "private_link": True, "private_link_consumers": [CONSUMER]}
    },
    "peering": {
        "connectivity": {
            "peering": {"peer_network": PEER_VNET, "peer_owner": PEER_SUBSCRIPTION, "peer_cidr": "192.168.0.0/16"}
        }
    },
    "byob": {"storage": {"mode": "byob", "bucket": "cust/enclave", "customer_account": PEER_SUBSCRIPTION}},
    "cmk": {"customer_managed_key": CMK},
    "unprotected": {"deletion_protection": False},
}


def views(run: AzureRun) -> list[ResourceView]:
    return [view_of(r) for r in run.run.resources]


def context(run: AzureRun, overrides: dict[str, Any]) -> PolicyContext:
    return context_for(make_spec(**overrides))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_azure_check_passes_on_the_built_stack(azure_run: Runner, variant: str) -> None:
    run = azure_run(**VARIANTS[variant])
    ctx = context(run, VARIANTS[variant])
    problems = [
        (rule.value, view.name, message)
        for view in views(run)
        for rule, checks in RULES.checks.items()
        if (check := checks.get(view.type)) and (message := found(check, view, ctx))
    ]
    assert problems == []
    checked_types = {view.type for view in views(run)} & {t for checks in RULES.checks.values() for t in checks}
    assert len(checked_types) >= 8  # the checks really saw the stack's resources


@pytest.mark.parametrize("variant", ["small", "large", "private-link", "cmk"])
def test_the_policy_engine_finds_no_violation_on_the_built_stack(azure_run: Runner, variant: str) -> None:
    from infra.policy.engine import evaluate

    run = azure_run(**VARIANTS[variant])
    assert evaluate(views(run), context(run, VARIANTS[variant])) == []


def test_taggable_types_and_tag_field() -> None:
    assert RULES.tag_field == "tags"
    assert f"{T}containerservice:ManagedCluster" in RULES.taggable_types
    assert f"{T}network:Subnet" not in RULES.taggable_types  # subnets take no tags


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = inputs
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


# (rule, type token, name of a resource in the default graph or None for a bare one, {path: value}, context)
Case = tuple[Rule, str, str | None, dict[str, Any], PolicyContext]
FAILING: list[Case] = [
    (Rule.NO_PUBLIC_DATA, f"{T}dbformysql:Server", "acme-mysql", {"network.publicNetworkAccess": "Enabled"}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}dbformysql:Server", "acme-mysql", {"network.delegatedSubnetResourceId": None}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}dbformysql:FirewallRule", None, {"startIpAddress": "0.0.0.0"}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}redis:FirewallRule", None, {"startIP": "0.0.0.0"}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}redis:Redis", None, {"publicNetworkAccess": "Enabled"}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}redisenterprise:RedisEnterprise", "acme-redis", {"publicNetworkAccess": "Enabled"}, CTX),
    (
        Rule.NO_PUBLIC_DATA,
        f"{T}storage:StorageAccount",
        "acme-data",
        {"publicNetworkAccess": "Enabled", "networkRuleSet.defaultAction": "Allow"},
        CTX,
    ),
    (
        Rule.NO_PUBLIC_DATA,
        f"{T}storage:StorageAccount",
        "acme-data",
        {
            "publicNetworkAccess": "Enabled",
            "networkRuleSet.ipRules": [{"iPAddressOrRange": "0.0.0.0/1"}, {"iPAddressOrRange": "128.0.0.0/1"}],
        },
        CTX,
    ),
    (Rule.NO_PUBLIC_DATA, f"{T}storage:StorageAccount", "acme-data", {"allowBlobPublicAccess": True}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}storage:StorageAccount", "acme-data", {"allowBlobPublicAccess": None}, CTX),
    (Rule.NO_PUBLIC_DATA, f"{T}storage:BlobContainer", "acme-data-container", {"publicAccess": "Blob"}, CTX),
    (
        Rule.NO_PUBLIC_DATA,
        f"{T}keyvault:Vault",
        "acme-kv",
        {"properties.publicNetworkAccess": "Enabled", "properties.networkAcls.defaultAction": "Allow"},
        CTX,
    ),
    (Rule.ENCRYPTION_AT_REST, f"{T}dbformysql:Server", "acme-mysql", {"dataEncryption.type": "SystemManaged"}, CTX),
    (
        Rule.ENCRYPTION_AT_REST,
        f"{T}dbformysql:Server",
        "acme-mysql",
        {"dataEncryption.primaryUserAssignedIdentityId": None},
        CTX,
    ),
    (
        Rule.ENCRYPTION_AT_REST,
        f"{T}storage:StorageAccount",
        "acme-data",
        {"encryption.keySource": "Microsoft.Storage"},
        CTX,
    ),
    (
        Rule.ENCRYPTION_AT_REST,
        f"{T}storage:StorageAccount",
        "acme-logs",
        {"encryption.requireInfrastructureEncryption": False},
        CTX,
    ),
    (
        Rule.ENCRYPTION_AT_REST,
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        {"securityProfile.azureKeyVaultKms.enabled": False},
        CTX,
    ),
    (Rule.ENCRYPTION_AT_REST, f"{T}keyvault:Key", "acme-key", {"properties.rotationPolicy": None}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}redis:Redis", None, {"enableNonSslPort": True, "minimumTlsVersion": "1.2"}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}redis:Redis", None, {"minimumTlsVersion": "1.0"}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}redisenterprise:RedisEnterprise", "acme-redis", {"minimumTlsVersion": "1.0"}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}redisenterprise:Database", "acme-redis-db", {"clientProtocol": "Plaintext"}, CTX),
    (Rule.ENCRYPTION_AT_REST, f"{T}redisenterprise:RedisEnterprise", "acme-redis", {"encryption": None}, CTX),
    (
        Rule.TLS_IN_TRANSIT,
        f"{T}dbformysql:Configuration",
        "acme-mysql-require-secure-transport",
        {"value": "OFF"},
        CTX,
    ),
    (Rule.TLS_IN_TRANSIT, f"{T}dbformysql:Configuration", "acme-mysql-tls-version", {"value": "TLSv1.1,TLSv1.2"}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}storage:StorageAccount", "acme-data", {"enableHttpsTrafficOnly": False}, CTX),
    (Rule.TLS_IN_TRANSIT, f"{T}storage:StorageAccount", "acme-logs", {"minimumTlsVersion": "TLS1_0"}, CTX),
    (Rule.DELETION_PROTECTION, f"{T}keyvault:Vault", "acme-kv", {"properties.enablePurgeProtection": False}, CTX),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        {"apiServerAccessProfile.enablePrivateCluster": False},
        CTX,
    ),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        {
            "apiServerAccessProfile.enablePrivateCluster": False,
            "apiServerAccessProfile.authorizedIPRanges": ["0.0.0.0/0"],
        },
        CTX,
    ),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        {"apiServerAccessProfile.enablePrivateClusterPublicFQDN": True},
        CTX,
    ),
    (
        Rule.NO_OPEN_INGRESS,
        f"{T}network:NetworkSecurityGroup",
        "acme-nodes-nsg",
        {
            "securityRules": [
                {
                    "name": "ssh",
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefix": "*",
                    "destinationPortRange": "22",
                }
            ]
        },
        CTX,
    ),
    (Rule.NO_OPEN_INGRESS, f"{T}network:NetworkSecurityGroup", "acme-nodes-nsg", {}, LISTED),
    (
        Rule.NO_OPEN_INGRESS,
        f"{T}network:SecurityRule",
        None,
        {
            "direction": "Inbound",
            "access": "Allow",
            "sourceAddressPrefixes": ["8.8.8.0/24"],
            "destinationPortRange": "443",
        },
        LISTED,
    ),
    (
        Rule.NO_OPEN_INGRESS,
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        {"agentPoolProfiles": [{"name": "system", "enableNodePublicIP": True}]},
        CTX,
    ),
    (Rule.NO_CROSS_TENANT_SHARING, f"{T}network:PrivateLinkService", None, {"visibility.subscriptions": ["*"]}, CTX),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        f"{T}network:PrivateLinkService",
        None,
        {"visibility.subscriptions": [CONSUMER], "autoApproval.subscriptions": [PEER_SUBSCRIPTION]},
        CTX,
    ),
    (Rule.NO_CROSS_TENANT_SHARING, f"{T}network:VirtualNetworkPeering", None, {"allowGatewayTransit": True}, CTX),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        f"{T}network:PrivateLinkService",
        None,
        {"visibility.subscriptions": [CONSUMER, PEER_SUBSCRIPTION]},
        CTX,
    ),
    (
        Rule.LEAST_PRIVILEGE,
        f"{T}authorization:RoleAssignment",
        "acme-gateway-blob-access",
        {"roleDefinitionId": OWNER, "scope": "/subscriptions/123456789012/resourceGroups/acme-rg"},
        CTX,
    ),
    (
        Rule.LEAST_PRIVILEGE,
        f"{T}authorization:RoleAssignment",
        "acme-gateway-blob-access",
        {"roleDefinitionId": USER_ACCESS_ADMIN, "scope": "/subscriptions/123456789012"},
        CTX,
    ),
    (Rule.DELETION_PROTECTION, f"{T}dbformysql:Server", "acme-mysql", {"backup.backupRetentionDays": 3}, CTX),
    (
        Rule.NO_OPEN_INGRESS,
        f"{T}network:SecurityRule",
        None,
        {
            "direction": "Inbound",
            "access": "Allow",
            "sourceAddressPrefixes": ["0.0.0.0/1", "128.0.0.0/1"],
            "destinationPortRange": "3306",
        },
        CTX,
    ),
    (
        Rule.NO_OPEN_INGRESS,
        f"{T}network:SecurityRule",
        None,
        {"direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "AzureCloud", "destinationPortRange": "22"},
        CTX,
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        f"{T}storage:StorageAccount",
        "acme-data",
        {"allowCrossTenantReplication": True},
        CTX,
    ),
]


def _view(run: AzureRun, type_token: str, name: str | None, changes: dict[str, Any]) -> ResourceView:
    if name is None:
        inputs: dict[str, Any] = {}
        view = ResourceView(type_token, "acme-handmade", "urn:handmade", inputs)
    else:
        (base,) = [r for r in run.run.resources if r.type == type_token and r.name == name]
        inputs = copy.deepcopy(base.inputs)
        view = ResourceView(type_token, name, base.urn, inputs, base.protect)
    for path, value in changes.items():
        _set(inputs, path, value)
    return view


@pytest.mark.parametrize(
    ("rule", "type_token", "name", "changes", "ctx"),
    FAILING,
    ids=[f"{c[0].value}:{c[1].split(':')[-1]}:{i}" for i, c in enumerate(FAILING)],
)
def test_each_check_catches_a_violation(
    azure_run: Runner, rule: Rule, type_token: str, name: str | None, changes: dict[str, Any], ctx: PolicyContext
) -> None:
    check = RULES.checks[rule][type_token]
    message = found(check, _view(azure_run(), type_token, name, changes), ctx)
    assert message, f"{rule.value} missed a bad {type_token}"
    assert len(message) > 30  # says what is wrong and what to do


@pytest.mark.parametrize("type_token", STATEFUL_TYPES)
def test_unprotected_stateful_resources_are_caught_only_while_protection_is_on(type_token: str) -> None:
    check = RULES.checks[Rule.DELETION_PROTECTION][type_token]
    view = ResourceView(
        type_token,
        "acme-x",
        "urn:x",
        {
            "properties": {"enablePurgeProtection": True, "enableSoftDelete": True},
            "backup": {"backupRetentionDays": 14},
        },
        protect=False,
    )
    assert found(check, view, CTX)
    assert found(check, view, PolicyContext("acme", False, ())) == ""


def test_allowed_variants_pass() -> None:
    rules = RULES.checks
    authorized = ResourceView(
        f"{T}containerservice:ManagedCluster",
        "acme-aks",
        "u",
        {"apiServerAccessProfile": {"authorizedIPRanges": ["203.0.113.0/24"]}},
    )
    assert found(rules[Rule.PRIVATE_CLUSTER_ENDPOINT][authorized.type], authorized, LISTED) == ""
    assert found(rules[Rule.PRIVATE_CLUSTER_ENDPOINT][authorized.type], authorized, CTX)  # not trusted
    pls = ResourceView(
        f"{T}network:PrivateLinkService",
        "acme-pls",
        "u",
        {"visibility": {"subscriptions": [CONSUMER]}},
    )
    assert found(rules[Rule.NO_CROSS_TENANT_SHARING][pls.type], pls, CTX) == ""
    auto_approving = ResourceView(
        f"{T}network:PrivateLinkService",
        "acme-pls",
        "u",
        {"visibility": {"subscriptions": [CONSUMER]}, "autoApproval": {"subscriptions": [CONSUMER]}},
    )
    assert "auto-approves" in found(rules[Rule.NO_CROSS_TENANT_SHARING][pls.type], auto_approving, CTX)
    in_list = ResourceView(
        f"{T}network:SecurityRule",
        "acme-rule",
        "u",
        {"direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "203.0.113.0/25"},
    )
    assert found(rules[Rule.NO_OPEN_INGRESS][in_list.type], in_list, LISTED) == ""
    on_a_resource = ResourceView(
        f"{T}authorization:RoleAssignment",
        "acme-ra",
        "u",
        {"roleDefinitionId": OWNER, "scope": "/subscriptions/1/resourceGroups/acme-rg/providers/Microsoft.Storage/x/y"},
    )
    assert found(rules[Rule.LEAST_PRIVILEGE][on_a_resource.type], on_a_resource, CTX) == ""


def test_every_check_has_a_failing_case() -> None:
    covered = {(rule, type_token) for rule, type_token, *_ in FAILING}
    covered |= {(Rule.DELETION_PROTECTION, t) for t in STATEFUL_TYPES}
    registered = {(rule, type_token) for rule, checks in RULES.checks.items() for type_token in checks}
    assert registered - covered == set()


def test_zero_backup_days_are_said_as_zero(azure_run: Runner) -> None:
    check = RULES.checks[Rule.DELETION_PROTECTION][f"{T}dbformysql:Server"]
    server = _view(azure_run(), f"{T}dbformysql:Server", "acme-mysql", {"backup.backupRetentionDays": 0})
    assert "keeps backups 0 days" in found(check, server, CTX)
    unset = _view(azure_run(), f"{T}dbformysql:Server", "acme-mysql", {"backup.backupRetentionDays": None})
    assert "the default number of days" in found(check, unset, CTX)
