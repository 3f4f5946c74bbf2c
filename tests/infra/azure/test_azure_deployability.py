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

from infra.azure.cluster import FeatureNotRegistered, require_registered
from infra.azure.common import (
    ROLE_KEY_VAULT_CONTRIBUTOR,
    ROLE_KEY_VAULT_CRYPTO_USER,
    SUBSCRIPTION_CLAIM_GROUP,
)
from infra.clouds import registration
from infra.mockrun import MockPlace, assert_ordered
from infra.regions import region_warnings
from infra.spec import TENANT_TAG
from tests.infra.cloud_harness import CONTRACT_SECRETS, run_build

Runner = Callable[..., AzureRun]
SUBSCRIPTION = "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"
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

    cache = run.one("redis:Redis").inputs
    assert "zones" not in cache
    if size != "small":  # Premium keeps its replicas, in the region
        assert cache["replicasPerPrimary"] >= 1

    for account in run.of_type("storage:StorageAccount"):
        assert account.inputs["sku"] == {"name": "Standard_LRS"}  # ZRS needs zones; GRS would leave the region


@pytest.mark.parametrize("size", ["small", "medium"])
def test_a_region_with_zones_spreads_over_three(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    server = run.one("dbformysql:Server").inputs
    assert server["availabilityZone"] == "1"
    if size == "medium":
        assert server["highAvailability"] == {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}
        assert run.one("redis:Redis").inputs["zones"] == ["1", "2", "3"]
    (pool,) = run.one("containerservice:ManagedCluster").inputs["agentPoolProfiles"]
    assert pool["availabilityZones"] == ["1", "2", "3"]
    assert {a.inputs["sku"]["name"] for a in run.of_type("storage:StorageAccount")} == {"Standard_ZRS"}
