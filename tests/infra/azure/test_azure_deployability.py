"""What a first real `pulumi up` on Azure needs beyond valid inputs: the order a control plane creates things
in, the subscription's one-time prerequisites, one tenant per subscription, and regions without zones.

Each ordering test fails when the dependency that gives the order is removed from the program: the resources
asserted about are linked by nothing else (no input of one is an output of the other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from azure_harness import AzureRun, make_spec, run_azure

from infra.azure.cluster import AZURE_CLI_APP_ID, FeatureNotRegistered, deployer_principal_type, require_registered
from infra.azure.common import (
    ROLE_AKS_CLUSTER_USER,
    ROLE_AKS_RBAC_CLUSTER_ADMIN,
    ROLE_KEY_VAULT_CONTRIBUTOR,
    ROLE_KEY_VAULT_CRYPTO_USER,
    SUBSCRIPTION_CLAIM_GROUP,
)
from infra.azure.mock_outputs import ROTATED, _client_config, _key_version
from infra.clouds import registration
from infra.mockrun import MockPlace, MockRun, assert_ordered
from infra.preview import preview_spec
from infra.regions import region_warnings
from infra.spec import TENANT_TAG
from tests.infra.cloud_harness import CONTRACT_SECRETS, run_build

Runner = Callable[..., AzureRun]
SUBSCRIPTION = "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"
CLIENT_CONFIG = _client_config(MockPlace(), "", "", {})


def current_key_version(vault: str, key: str) -> str:
    return f"https://{vault}.vault.azure.net/keys/{key}/{_key_version(vault, key, ROTATED)}"


NO_ZONE_REGION = "westus"


def grant(run: AzureRun, name: str, role: str) -> Any:
    assignment = run.named("authorization:RoleAssignment", name)
    assert assignment.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{role}")
    return assignment


# ------------------------------------------------------------------------------------------------ ordering


def test_the_mysql_dns_zone_is_linked_to_the_vnet_before_the_server(azure_run: Runner) -> None:
    run = azure_run()
    link = run.named("privatedns:VirtualNetworkLink", "acme-mysql-dns-link")
    server = run.one("dbformysql:Server")
    assert link.inputs["virtualNetwork"] == {"id": run.named("network:VirtualNetwork", "acme-vnet").outputs["id"]}
    assert (
        server.inputs["network"]["privateDnsZoneResourceId"]
        == run.named("privatedns:PrivateZone", "acme-mysql-dns").outputs["id"]
    )
    assert_ordered(run.run, before=link, after=server)


def test_the_cluster_identity_holds_both_kms_roles_on_the_private_vault_before_the_cluster(azure_run: Runner) -> None:
    run = azure_run()
    vault = run.one("keyvault:Vault")
    control_plane = run.named("managedidentity:UserAssignedIdentity", "acme-aks-identity")
    cluster = run.one("containerservice:ManagedCluster")
    assert cluster.inputs["securityProfile"]["azureKeyVaultKms"]["keyVaultNetworkAccess"] == "Private"
    crypto_user = grant(run, "acme-aks-identity-kms", ROLE_KEY_VAULT_CRYPTO_USER)
    private_link = grant(run, "acme-aks-identity-kms-private-link", ROLE_KEY_VAULT_CONTRIBUTOR)
    for assignment in (crypto_user, private_link):
        assert assignment.inputs["principalId"] == control_plane.outputs["principalId"]
        assert assignment.inputs["scope"] == vault.outputs["id"]  # the vault alone, never the group
        assert_ordered(run.run, before=assignment, after=cluster)


def test_a_customer_key_in_a_public_vault_needs_no_private_link_role(azure_run: Runner) -> None:
    from azure_harness import CMK

    run = azure_run(customer_managed_key=CMK)
    roles = [r.inputs["roleDefinitionId"].rsplit("/", 1)[-1] for r in run.of_type("authorization:RoleAssignment")]
    assert ROLE_KEY_VAULT_CONTRIBUTOR not in roles


def test_everything_waits_for_the_subscription_claim(azure_run: Runner) -> None:
    run = azure_run()
    claim = run.named("resources:ResourceGroup", "acme-subscription-claim")
    azure_resources = [r for r in run.run.resources if r.custom and r.type.startswith("azure-native:")]
    assert len(azure_resources) > 50
    for resource in azure_resources:
        if resource is not claim:
            assert_ordered(run.run, before=claim, after=resource)


# ------------------------------------------------------------------------------------ one tenant per subscription


def test_every_tenant_claims_its_subscription_under_the_same_fixed_name(azure_run: Runner) -> None:
    """Two tenants' stacks in one subscription would both create this group: the provider refuses the second."""
    claims = []
    for name in ("acme", "globex"):
        run = azure_run(name=name)
        claim = run.named("resources:ResourceGroup", f"{name}-subscription-claim")
        assert claim.inputs["resourceGroupName"] == SUBSCRIPTION_CLAIM_GROUP
        assert claim.inputs["tags"][TENANT_TAG] == name
        assert claim.protect  # released only by destroying the tenant's stack
        claims.append(claim.inputs["resourceGroupName"])
        # the tenant's own resources never take the claim's name
        others = [r for r in run.of_type("resources:ResourceGroup") if r is not claim]
        assert [r.inputs["resourceGroupName"] for r in others] == [f"{name}-rg"]
    assert claims[0] == claims[1]


def test_the_provider_is_pinned_to_the_spec_subscription_and_region() -> None:
    run = run_azure(make_spec(azure_subscription_id=SUBSCRIPTION))
    (provider,) = run.run.of_type("pulumi:providers:azure-native")
    assert provider.inputs["subscriptionId"] == SUBSCRIPTION
    assert provider.inputs["location"] == "westeurope"
    assert run.one("containerservice:ManagedCluster").outputs["id"].startswith(f"/subscriptions/{SUBSCRIPTION}/")


# ------------------------------------------------------------------------------- EncryptionAtHost registration


@pytest.mark.parametrize("state", ["Registered", "registered"])
def test_a_registered_feature_is_accepted(state: str) -> None:
    assert require_registered(state) is True


@pytest.mark.parametrize("state", [None, "", "NotRegistered", "Pending", "Registering", "Unregistered"])
def test_an_unregistered_feature_is_refused_with_the_steps(state: str | None) -> None:
    with pytest.raises(FeatureNotRegistered) as refused:
        require_registered(state)
    message = str(refused.value)
    assert "az feature register --namespace Microsoft.Compute --name EncryptionAtHost" in message
    assert "az provider register --namespace Microsoft.Compute" in message
    assert (state or "not registered") in message


def _run_with_feature_state(state: str) -> AzureRun:
    spec = make_spec(azure_subscription_id=SUBSCRIPTION)
    reg = registration("azure")
    fakers, invokes = reg.mock_outputs()
    asked: list[Mapping[str, Any]] = []

    def feature(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        asked.append(args)
        return {"name": args["featureName"], "properties": {"state": state}}

    run, infra = run_build(
        spec,
        reg.module().build,
        fakers=fakers,
        invokes={**invokes, "azure-native:features:getSubscriptionFeatureRegistration": feature},
        config=CONTRACT_SECRETS,
    )
    assert asked == [{"featureName": "EncryptionAtHost", "providerNamespace": "Microsoft.Compute"}]
    return AzureRun(run, infra, {})


def test_the_node_pool_enables_host_encryption_once_the_subscription_feature_is_read_as_registered() -> None:
    run = _run_with_feature_state("Registered")
    (pool,) = run.one("containerservice:ManagedCluster").inputs["agentPoolProfiles"]
    assert pool["enableEncryptionAtHost"] is True


def test_the_program_stops_before_the_cluster_when_the_feature_is_not_registered() -> None:
    with pytest.raises(Exception, match=r"EncryptionAtHost feature is NotRegistered.*az feature register"):
        _run_with_feature_state("NotRegistered")


# -------------------------------------------------------------------------------- regions without zones


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_a_region_without_zones_builds_unzoned_with_degraded_high_availability(azure_run: Runner, size: str) -> None:
    assert any("no availability zones" in w for w in region_warnings("azure", NO_ZONE_REGION))
    run = azure_run(region=NO_ZONE_REGION, size=size)

    server = run.one("dbformysql:Server").inputs
    assert "availabilityZone" not in server
    expected_ha = {"mode": "SameZone"} if size != "small" else {"mode": "Disabled"}
    assert server["highAvailability"] == expected_ha

    (pool,) = run.one("containerservice:ManagedCluster").inputs["agentPoolProfiles"]
    assert "availabilityZones" not in pool

    cache = run.one("redisenterprise:RedisEnterprise").inputs
    assert "zones" not in cache
    assert cache["highAvailability"] == "Enabled"  # its replica stays in the region

    for account in run.of_type("storage:StorageAccount"):
        assert account.inputs["sku"] == {"name": "Standard_LRS"}  # ZRS needs zones; GRS would leave the region


@pytest.mark.parametrize("size", ["small", "medium"])
def test_a_region_with_zones_spreads_over_three(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    server = run.one("dbformysql:Server").inputs
    assert server["availabilityZone"] == "1"
    if size == "medium":
        assert server["highAvailability"] == {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}
        # Azure Managed Redis is zone-redundant by itself with high availability in a zonal region: no zone list
        assert run.one("redisenterprise:RedisEnterprise").inputs["highAvailability"] == "Enabled"
    (pool,) = run.one("containerservice:ManagedCluster").inputs["agentPoolProfiles"]
    assert pool["availabilityZones"] == ["1", "2", "3"]
    assert {a.inputs["sku"]["name"] for a in run.of_type("storage:StorageAccount")} == {"Standard_ZRS"}


# ------------------------------------------------------------------------------- the Kubernetes API (Azure RBAC)

OPERATORS = "0f5a3c2e-1b4d-4e6f-8a9b-0c1d2e3f4a5b"


def test_the_deploying_identity_administers_the_cluster_before_any_kubernetes_resource(azure_run: Runner) -> None:
    """Azure RBAC on and local accounts off: without an AKS RBAC role every Kubernetes request of `pulumi up`
    is refused with 403 ("Use Azure RBAC for Kubernetes Authorization"). The identity running `pulumi up` gets
    Azure Kubernetes Service RBAC Cluster Admin on this cluster, and the kubeconfig the workload's provider uses
    resolves only once that assignment exists."""
    run = azure_run()
    cluster = run.one("containerservice:ManagedCluster")
    assert cluster.inputs["disableLocalAccounts"] is True
    assert cluster.inputs["aadProfile"]["enableAzureRBAC"] is True
    deployer = grant(run, "acme-aks-deployer-admin", ROLE_AKS_RBAC_CLUSTER_ADMIN)
    assert deployer.inputs["scope"] == cluster.outputs["id"]  # the cluster, not the group or subscription
    assert deployer.inputs["principalId"] == CLIENT_CONFIG["objectId"]
    # the stand-in deploys as a service principal; an `az login` user is a User (ARM refuses a mismatched type)
    assert deployer.inputs["principalType"] == "ServicePrincipal"
    assert deployer_principal_type(AZURE_CLI_APP_ID) == "User"
    assert not [a for a in run.of_type("authorization:RoleAssignment") if "aks-operators" in a.name]
    report = preview_spec(make_spec(azure_subscription_id=SUBSCRIPTION))
    full = MockRun(resources=list(report.resources))
    provider = full.one("pulumi:providers:kubernetes")
    assert_ordered(
        full, before=full.named("azure-native:authorization:RoleAssignment", "acme-aks-deployer-admin"), after=provider
    )
    assert report.passed, report.violations


def test_operator_groups_get_the_documented_roles_on_the_cluster_only(azure_run: Runner) -> None:
    run = azure_run(azure_operator_group_ids=[OPERATORS])
    cluster = run.one("containerservice:ManagedCluster").outputs["id"]
    admin = grant(run, "acme-aks-operators-0-admin", ROLE_AKS_RBAC_CLUSTER_ADMIN)
    user = grant(run, "acme-aks-operators-0-user", ROLE_AKS_CLUSTER_USER)
    for assignment in (admin, user):
        assert assignment.inputs["principalId"] == OPERATORS
        assert assignment.inputs["principalType"] == "Group"
        assert assignment.inputs["scope"] == cluster


def test_operator_groups_are_entra_object_ids_and_azure_only() -> None:
    with pytest.raises(ValueError, match="azure_operator_group_ids"):
        make_spec(azure_operator_group_ids=["operators"])
    with pytest.raises(ValueError, match="azure_operator_group_ids is only for Azure"):
        make_spec(cloud="gcp", region="europe-west1", gcp_project="acme-prod-123", azure_operator_group_ids=[OPERATORS])


# ------------------------------------------------------------------------------------ the key's rotations


def test_services_that_pin_a_key_version_follow_the_rotation(azure_run: Runner) -> None:
    """The tenant key rotates every 90 days and each version expires a year after it was made: AKS's KMS plugin
    and Azure Managed Redis take a versioned key, so they get the key's *current* version (Key Vault `Keys -
    Get`), read on every `pulumi up`, not the version the key was created with."""
    run = azure_run()
    key = run.one("keyvault:Key")
    created = key.outputs["keyUriWithVersion"]
    current = current_key_version(key.inputs["vaultName"], key.inputs["keyName"])
    assert created != current  # the stand-in reports a rotated key
    kms = run.one("containerservice:ManagedCluster").inputs["securityProfile"]["azureKeyVaultKms"]
    assert kms["keyId"] == current
    cmk = run.one("redisenterprise:RedisEnterprise").inputs["encryption"]["customerManagedKeyEncryption"]
    assert cmk["keyEncryptionKeyUrl"] == current
    identity = run.named("managedidentity:UserAssignedIdentity", "acme-encryption-identity").outputs["id"]
    assert cmk["keyEncryptionKeyIdentity"] == {
        "identityType": "userAssignedIdentity",
        "userAssignedIdentityResourceId": identity,
    }
    # the services that take a versionless key follow rotations by themselves
    versionless = key.outputs["keyUri"]
    assert run.one("dbformysql:Server").inputs["dataEncryption"]["primaryKeyURI"] == versionless


def test_the_cache_is_azure_managed_redis_not_the_retired_service(azure_run: Runner) -> None:
    run = azure_run(size="large")
    assert not run.of_type("redis:Redis")
    cache = run.one("redisenterprise:RedisEnterprise")
    assert_ordered(
        run.run, before=run.named("authorization:RoleAssignment", "acme-encryption-identity-key-access"), after=cache
    )
    audit = run.named("monitor:DiagnosticSetting", "acme-redis-audit").inputs
    assert audit["resourceUri"] == run.one("redisenterprise:Database").outputs["id"]
    assert audit["logs"] == [{"category": "ConnectionEvents", "enabled": True}]
