"""The Azure tenant stack under Pulumi mocks: every part exists, with its security settings, for every size."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from azure_harness import CACHE_TOKEN, DB_PASSWORD, AzureRun, make_spec
from pulumi.runtime import rpc

from infra.azure.common import (
    ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
    ROLE_KEY_VAULT_CRYPTO_USER,
    ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
)
from infra.azure.network import plan_subnets
from infra.sizes import PRESETS, Size
from infra.spec import TENANT_TAG
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

Runner = Callable[..., AzureRun]
SIZES = [size.value for size in Size]
TAGS = {TENANT_TAG: "acme", "managed-by": "enclave"}


def out(resource: Any, key: str) -> Any:
    return resource.outputs[key]


def role_grants(run: AzureRun, role: str) -> list[dict[str, Any]]:
    return [
        r.inputs for r in run.of_type("authorization:RoleAssignment") if r.inputs["roleDefinitionId"].endswith(role)
    ]


@pytest.mark.parametrize("size", SIZES)
def test_network_is_private_with_nat_egress_and_flow_logs(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    plan = plan_subnets(ipaddress.IPv4Network("10.20.0.0/16"))
    vnet = run.named("network:VirtualNetwork", "acme-vnet")
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.20.0.0/16"]}
    assert vnet.inputs["location"] == "westeurope"

    subnets = {r.name: r.inputs for r in run.of_type("network:Subnet")}
    assert {n: s["addressPrefix"] for n, s in subnets.items()} == {
        "acme-nodes": str(plan.nodes),
        "acme-apiserver": str(plan.api_server),
        "acme-database": str(plan.database),
        "acme-endpoints": str(plan.endpoints),
    }
    assert all(s["defaultOutboundAccess"] is False for s in subnets.values())
    nat = run.named("network:NatGateway", "acme-nat")
    assert subnets["acme-nodes"]["natGateway"] == {"id": out(nat, "id")}
    assert subnets["acme-database"]["delegations"][0]["serviceName"] == "Microsoft.DBforMySQL/flexibleServers"
    assert subnets["acme-apiserver"]["delegations"][0]["serviceName"] == "Microsoft.ContainerService/managedClusters"
    assert subnets["acme-endpoints"]["privateLinkServiceNetworkPolicies"] == "Disabled"
    data_nsg = run.named("network:NetworkSecurityGroup", "acme-data-nsg")
    assert subnets["acme-database"]["networkSecurityGroup"] == {"id": out(data_nsg, "id")}

    # the NAT gateway's egress address is the only public IP the stack creates
    (public_ip,) = run.of_type("network:PublicIPAddress")
    assert nat.inputs["publicIpAddresses"] == [{"id": out(public_ip, "id")}]
    assert public_ip.inputs["sku"] == {"name": "Standard"}

    nodes_nsg = run.named("network:NetworkSecurityGroup", "acme-nodes-nsg")
    rules = {r["name"]: r for r in nodes_nsg.inputs["securityRules"]}
    assert rules["allow-https-inbound"]["destinationPortRange"] == "443"
    assert rules["allow-https-inbound"]["sourceAddressPrefix"] == "Internet"
    assert rules["deny-internet-inbound"]["access"] == "Deny"
    assert rules["deny-internet-inbound"]["priority"] > rules["allow-https-inbound"]["priority"]

    flow_log = run.one("network:FlowLog").inputs
    logs = run.named("storage:StorageAccount", "acme-logs")
    assert flow_log["enabled"] is True
    assert flow_log["targetResourceId"] == out(vnet, "id")
    assert flow_log["storageId"] == out(logs, "id")
    assert flow_log["retentionPolicy"] == {"enabled": True, "days": 365}
    assert run.infra.private_cidrs == plan.private_cidrs


@pytest.mark.parametrize("size", SIZES)
def test_cluster_is_private_encrypted_and_sized_from_the_preset(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    preset = PRESETS["azure"][Size(size)]
    aks = run.one("containerservice:ManagedCluster").inputs
    access = aks["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True
    assert access["enablePrivateClusterPublicFQDN"] is False
    assert access["enableVnetIntegration"] is True
    assert access["subnetId"] == out(run.named("network:Subnet", "acme-apiserver"), "id")
    assert aks["publicNetworkAccess"] == "Disabled"
    assert aks["disableLocalAccounts"] is True
    assert aks["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert aks["oidcIssuerProfile"] == {"enabled": True}
    assert aks["securityProfile"]["workloadIdentity"] == {"enabled": True}

    kms = aks["securityProfile"]["azureKeyVaultKms"]
    key = run.one("keyvault:Key")
    assert kms["enabled"] is True
    assert kms["keyId"].startswith(f"{out(key, 'keyUri')}/")  # a version of the tenant key
    assert kms["keyVaultNetworkAccess"] == "Private"
    assert kms["keyVaultResourceId"] == out(run.one("keyvault:Vault"), "id")
    assert aks["networkProfile"]["outboundType"] == "userAssignedNATGateway"
    assert aks["networkProfile"]["networkPolicy"] == "cilium"
    assert not ipaddress.IPv4Network(aks["networkProfile"]["podCidr"]).overlaps(ipaddress.IPv4Network("10.20.0.0/16"))

    (pool,) = aks["agentPoolProfiles"]
    assert pool["vmSize"] == preset.node_machine_type
    assert (pool["minCount"], pool["maxCount"]) == (preset.node_count_min, preset.node_count_max)
    assert pool["enableAutoScaling"] is True
    assert pool["availabilityZones"] == ["1", "2", "3"]
    assert pool["enableNodePublicIP"] is False
    assert pool["vnetSubnetID"] == out(run.named("network:Subnet", "acme-nodes"), "id")

    control_plane = run.named("managedidentity:UserAssignedIdentity", "acme-aks-identity")
    kms_grants = role_grants(run, ROLE_KEY_VAULT_CRYPTO_USER)
    assert [g["principalId"] for g in kms_grants] == [out(control_plane, "principalId")]


@pytest.mark.parametrize("size", SIZES)
def test_gateway_workload_identity_is_federated_with_its_service_account(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    identity = run.named("managedidentity:UserAssignedIdentity", "acme-gateway-identity")
    federation = run.one("managedidentity:FederatedIdentityCredential").inputs
    assert federation["subject"] == f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
    assert federation["audiences"] == ["api://AzureADTokenExchange"]
    assert federation["resourceName"] == out(identity, "name")
    aks = run.one("containerservice:ManagedCluster")
    assert federation["issuer"] == out(aks, "oidcIssuerProfile")["issuerURL"]
    assert run.resolved["sa:azure.workload.identity/client-id"] == (out(identity, "clientId"), False)
    assert run.infra.gateway_pod_labels == {"azure.workload.identity/use": "true"}


@pytest.mark.parametrize("size", SIZES)
def test_database_is_private_tls_only_encrypted_backed_up(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    preset = PRESETS["azure"][Size(size)]
    server = run.one("dbformysql:Server")
    db = server.inputs
    assert db["version"].startswith("8.0")
    assert db["network"]["publicNetworkAccess"] == "Disabled"
    assert db["network"]["delegatedSubnetResourceId"] == out(run.named("network:Subnet", "acme-database"), "id")
    assert db["backup"]["backupRetentionDays"] >= 7
    assert db["sku"]["name"] == preset.db_instance_class
    assert db["storage"]["storageSizeGB"] == preset.db_storage_gb
    if preset.db_high_availability:
        assert db["highAvailability"]["mode"] == "ZoneRedundant"
        assert db["highAvailability"]["standbyAvailabilityZone"] != db["availabilityZone"]
    else:
        assert db["highAvailability"] == {"mode": "Disabled"}
    encryption_identity = run.named("managedidentity:UserAssignedIdentity", "acme-encryption-identity")
    assert db["dataEncryption"] == {
        "type": "AzureKeyVault",
        "primaryKeyURI": out(run.one("keyvault:Key"), "keyUri"),
        "primaryUserAssignedIdentityId": out(encryption_identity, "id"),
    }
    assert server.protect is True
    parameters = {r.inputs["configurationName"]: r.inputs["value"] for r in run.of_type("dbformysql:Configuration")}
    assert parameters["require_secure_transport"] == "ON"
    assert parameters["tls_version"] == "TLSv1.2,TLSv1.3"
    assert parameters["audit_log_enabled"] == "ON"
    assert all(r.inputs["serverName"] == out(server, "name") for r in run.of_type("dbformysql:Configuration"))
    endpoint = run.infra.database
    assert (endpoint.port, endpoint.name, endpoint.user) == (3306, "enclave", db["administratorLogin"])
    assert run.resolved["db_host"] == (out(server, "fullyQualifiedDomainName"), False)


@pytest.mark.parametrize("size", SIZES)
def test_cache_is_private_and_tls_only(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    preset = PRESETS["azure"][Size(size)]
    cache = run.one("redisenterprise:RedisEnterprise")
    redis = cache.inputs
    assert redis["sku"] == {"name": preset.cache_node_type}
    assert redis["sku"]["name"].startswith("Balanced_B")
    assert redis["minimumTlsVersion"] == "1.2"
    assert redis["publicNetworkAccess"] == "Disabled"
    assert redis["highAvailability"] == "Enabled"
    database = run.one("redisenterprise:Database").inputs
    assert database["clusterName"] == out(cache, "name")
    assert (database["databaseName"], database["port"]) == ("default", 10000)
    assert database["clientProtocol"] == "Encrypted"
    assert database["clusteringPolicy"] == "EnterpriseCluster"  # one endpoint for the gateway's plain client
    assert database["accessKeysAuthentication"] == "Enabled"
    assert cache.protect is True
    endpoint = run.named("network:PrivateEndpoint", "acme-redis-endpoint").inputs
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == out(cache, "id")
    assert connection["groupIds"] == ["redisEnterprise"]
    assert endpoint["subnet"] == {"id": out(run.named("network:Subnet", "acme-endpoints"), "id")}
    assert run.named("privatedns:PrivateZone", "acme-redis-endpoint-dns").inputs["privateZoneName"] == (
        "privatelink.redis.azure.net"
    )
    assert run.infra.cache.port == 10000
    assert run.resolved["cache_host"] == (out(cache, "hostName"), False)
    assert out(cache, "hostName").endswith(".westeurope.redis.azure.net")


@pytest.mark.parametrize("size", SIZES)
def test_tenant_key_is_protected_and_rotates(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    vault = run.one("keyvault:Vault")
    props = vault.inputs["properties"]
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True
    assert props["enableRbacAuthorization"] is True
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    key = run.one("keyvault:Key")
    assert key.inputs["properties"]["kty"] == "RSA"
    actions = key.inputs["properties"]["rotationPolicy"]["lifetimeActions"]
    assert {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}} in actions
    assert vault.protect and key.protect
    kv_endpoint = run.named("network:PrivateEndpoint", "acme-kv-endpoint").inputs
    assert kv_endpoint["privateLinkServiceConnections"][0]["privateLinkServiceId"] == out(vault, "id")
    encryption_identity = run.named("managedidentity:UserAssignedIdentity", "acme-encryption-identity")
    (grant,) = role_grants(run, ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER)
    assert grant["principalId"] == out(encryption_identity, "principalId")
    assert grant["scope"] == out(vault, "id")
    assert run.resolved["key_id"] == (out(key, "keyUri"), False)


@pytest.mark.parametrize("size", SIZES)
def test_managed_storage_is_private_encrypted_versioned_with_gateway_cors(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    account = run.named("storage:StorageAccount", "acme-data")
    data = account.inputs
    assert data["allowBlobPublicAccess"] is False
    assert data["enableHttpsTrafficOnly"] is True
    assert data["minimumTlsVersion"] == "TLS1_2"
    assert data["allowSharedKeyAccess"] is False
    assert data["allowCrossTenantReplication"] is False
    encryption = data["encryption"]
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["keyVaultProperties"]["keyName"] == "acme-key"
    vault_uri = out(run.one("keyvault:Key"), "keyUri").split("/keys/")[0]
    assert encryption["keyVaultProperties"]["keyVaultUri"] == vault_uri
    assert encryption["requireInfrastructureEncryption"] is True
    assert account.protect is True

    service = run.named("storage:BlobServiceProperties", "acme-data-blob-service").inputs
    assert service["isVersioningEnabled"] is True
    (cors,) = service["cors"]["corsRules"]
    assert cors["allowedOrigins"] == ["https://files.acme.example.com"]
    container = run.one("storage:BlobContainer").inputs
    assert container["publicAccess"] == "None"

    gateway = run.named("managedidentity:UserAssignedIdentity", "acme-gateway-identity")
    (grant,) = role_grants(run, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR)
    assert (grant["principalId"], grant["scope"]) == (out(gateway, "principalId"), out(account, "id"))
    assert run.resolved["bucket"] == (f"{data['accountName']}/tenant-data", False)
    assert run.resolved["platform_identity"] == (out(gateway, "principalId"), False)


@pytest.mark.parametrize("size", SIZES)
def test_audit_trail_goes_to_an_immutable_encrypted_archive(azure_run: Runner, size: str) -> None:
    run = azure_run(size=size)
    archive = run.named("storage:StorageAccount", "acme-logs")
    logs = archive.inputs
    assert logs["publicNetworkAccess"] == "Disabled"
    assert logs["networkRuleSet"]["defaultAction"] == "Deny"
    assert logs["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert logs["immutableStorageWithVersioning"] == {
        "enabled": True,
        "immutabilityPolicy": {
            "immutabilityPeriodSinceCreationInDays": 365,
            "state": "Unlocked",  # the API creates policies Disabled or Unlocked only; locking is the operator's step
            "allowProtectedAppendWrites": True,
        },
    }
    settings = {r.name: r.inputs for r in run.of_type("monitor:DiagnosticSetting")}
    assert set(settings) == {
        "acme-aks-audit",
        "acme-mysql-audit",
        "acme-redis-audit",
        "acme-kv-audit",
        "acme-data-audit",
    }
    assert all(s["storageAccountId"] == out(archive, "id") for s in settings.values())
    assert settings["acme-aks-audit"]["resourceUri"] == out(run.one("containerservice:ManagedCluster"), "id")
    assert {"category": "kube-audit", "enabled": True} in settings["acme-aks-audit"]["logs"]
    assert {"category": "MySqlAuditLogs", "enabled": True} in settings["acme-mysql-audit"]["logs"]
    assert settings["acme-data-audit"]["resourceUri"].endswith("/blobServices/default")
    aks_setting = run.named("monitor:DiagnosticSetting", "acme-aks-audit")
    assert run.resolved["audit_trail"] == (out(aks_setting, "id"), False)


@pytest.mark.parametrize("size", SIZES)
def test_every_resource_belongs_to_the_tenant_and_carries_its_tags(azure_run: Runner, size: str) -> None:
    from infra.azure.policy import TAGGABLE_TYPES

    run = azure_run(size=size)
    resources = [r for r in run.run.resources if r.type != "enclave:index:TenantStack"]
    assert all(r.name.startswith("acme-") for r in resources)
    tagged = [r for r in resources if r.type in TAGGABLE_TYPES]
    assert len(tagged) > 20
    assert all(r.inputs.get("tags") == TAGS for r in tagged)
    provider = run.run.one("pulumi:providers:azure-native")
    assert provider.inputs["location"] == "westeurope"
    located = [r for r in resources if "location" in r.inputs and r.type != "network:FlowLog"]
    assert {r.inputs["location"] for r in located} <= {"westeurope", "global"}


def test_taggable_types_are_exactly_those_whose_arguments_take_tags(azure_run: Runner) -> None:
    """Guards the policy's taggable list against drift: a type used here with a `tags` argument must be in it."""
    import importlib
    import inspect

    from infra.azure.policy import TAGGABLE_TYPES

    used = {r.type for r in azure_run().run.resources if r.type.startswith("azure-native:")}
    for token in used:
        _, module, cls = token.split(":")
        resource = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
        takes_tags = "tags" in inspect.signature(resource._internal_init).parameters
        assert takes_tags == (token in TAGGABLE_TYPES), token


def _plain_strings(value: Any) -> list[str]:
    """Every string in an input tree that is not inside a secret wrapper."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return []
        return [s for v in value.values() for s in _plain_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _plain_strings(v)]
    return [value] if isinstance(value, str) else []


def test_secrets_stay_secret(azure_run: Runner) -> None:
    run = azure_run()
    for key in ("kubeconfig", "db_password", "cache_token"):
        assert run.resolved[key][1] is True, f"{key} is not a secret output"
    cache_key = run.resolved["cache_token"][0]
    assert "kubelogin" in run.resolved["kubeconfig"][0]
    for resource in run.run.resources:
        assert CACHE_TOKEN not in repr(resource.inputs)
        assert cache_key not in repr(resource.inputs)
        assert not [s for s in _plain_strings(resource.inputs) if DB_PASSWORD in s], resource.name
    # the server's admin password is the one input carrying it, as a secret
    password = run.one("dbformysql:Server").inputs["administratorLoginPassword"]
    assert password == {rpc._special_sig_key: rpc._special_secret_sig, "value": DB_PASSWORD}


# ------------------------------------------------------------------------------------------------ variants


def test_allow_list_limits_the_ingress_rule_and_the_storage_firewall(azure_run: Runner) -> None:
    run = azure_run(connectivity={"allowed_cidrs": ["203.0.113.0/24", "198.51.100.7/32"]})
    rules = {r["name"]: r for r in run.named("network:NetworkSecurityGroup", "acme-nodes-nsg").inputs["securityRules"]}
    https = rules["allow-https-inbound"]
    assert https["sourceAddressPrefixes"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert "sourceAddressPrefix" not in https
    firewall = run.named("storage:StorageAccount", "acme-data").inputs["networkRuleSet"]
    assert firewall["defaultAction"] == "Deny"
    assert [r["iPAddressOrRange"] for r in firewall["ipRules"]] == ["203.0.113.0/24", "198.51.100.7"]


def test_without_allow_list_the_data_account_is_private_endpoint_only(azure_run: Runner) -> None:
    """Default deny, no public endpoint at all: the gateway (and whoever reaches the tenant network) uses the
    blob private endpoint ("Configure Azure Storage firewalls and virtual networks")."""
    run = azure_run()
    account = run.named("storage:StorageAccount", "acme-data")
    assert account.inputs["networkRuleSet"]["defaultAction"] == "Deny"
    assert account.inputs["networkRuleSet"]["ipRules"] == []
    assert account.inputs["publicNetworkAccess"] == "Disabled"
    endpoint = run.named("network:PrivateEndpoint", "acme-data-endpoint").inputs
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert (connection["privateLinkServiceId"], connection["groupIds"]) == (out(account, "id"), ["blob"])
    zone = run.named("privatedns:PrivateZone", "acme-data-endpoint-dns").inputs["privateZoneName"]
    assert zone == "privatelink.blob.core.windows.net"


def test_private_link_service_is_limited_to_the_consumers(azure_run: Runner) -> None:
    consumer = "11111111-2222-4333-8444-555555555555"
    run = azure_run(connectivity={"public_ingress": False, "private_link": True, "private_link_consumers": [consumer]})
    annotations = run.infra.load_balancer_annotations
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/azure-pls-visibility"] == consumer
    assert "service.beta.kubernetes.io/azure-pls-auto-approval" not in annotations
    assert run.resolved["private_link_service"] == ("acme-pls", False)
    rules = run.named("network:NetworkSecurityGroup", "acme-nodes-nsg").inputs["securityRules"]
    assert [r["name"] for r in rules] == ["deny-internet-inbound"]


def test_public_ingress_has_no_private_link_service(azure_run: Runner) -> None:
    run = azure_run()
    assert run.infra.private_link_service is None
    assert not any("azure-pls" in key for key in run.infra.load_balancer_annotations)


def test_peering_reaches_the_peer_without_transit(azure_run: Runner) -> None:
    from azure_harness import PEER_SUBSCRIPTION, PEER_VNET

    run = azure_run(
        connectivity={
            "peering": {"peer_network": PEER_VNET, "peer_owner": PEER_SUBSCRIPTION, "peer_cidr": "10.244.0.0/16"}
        }
    )
    peering = run.one("network:VirtualNetworkPeering").inputs
    assert peering["remoteVirtualNetwork"] == {"id": PEER_VNET}
    assert peering["virtualNetworkName"] == "acme-vnet"
    assert peering["allowVirtualNetworkAccess"] is True
    assert not any(peering[k] for k in ("allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways"))
    pods = run.one("containerservice:ManagedCluster").inputs["networkProfile"]["podCidr"]
    assert not ipaddress.IPv4Network(pods).overlaps(ipaddress.IPv4Network("10.244.0.0/16"))


def test_byob_wires_the_gateway_identity_and_creates_no_bucket(azure_run: Runner) -> None:

    run = azure_run(
        storage={
            "mode": "byob",
            "bucket": "custacct/enclave",
            "customer_account": "99999999-8888-4777-8666-555555555555",
        }
    )
    assert [r.name for r in run.of_type("storage:StorageAccount")] == ["acme-logs"]
    assert run.of_type("storage:BlobContainer") == []
    assert role_grants(run, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR) == []
    gateway = run.named("managedidentity:UserAssignedIdentity", "acme-gateway-identity")
    assert run.resolved["bucket"] == ("custacct/enclave", False)
    assert run.resolved["platform_identity"] == (out(gateway, "principalId"), False)
    assert "acme-data-audit" not in {r.name for r in run.of_type("monitor:DiagnosticSetting")}


def test_customer_managed_key_replaces_the_tenant_vault(azure_run: Runner) -> None:
    from azure_harness import CMK

    run = azure_run(customer_managed_key=CMK)
    assert run.of_type("keyvault:Vault") == [] and run.of_type("keyvault:Key") == []
    versionless = CMK.rsplit("/", 1)[0]
    assert run.one("dbformysql:Server").inputs["dataEncryption"]["primaryKeyURI"] == versionless
    kms = run.one("containerservice:ManagedCluster").inputs["securityProfile"]["azureKeyVaultKms"]
    assert (kms["keyId"], kms["keyVaultNetworkAccess"]) == (CMK, "Public")
    for account in run.of_type("storage:StorageAccount"):
        assert account.inputs["encryption"]["keyVaultProperties"] == {
            "keyName": "enclave",
            "keyVaultUri": "https://acme-keys.vault.azure.net",
        }
    assert run.resolved["key_id"] == (versionless, False)
    assert "acme-kv-audit" not in {r.name for r in run.of_type("monitor:DiagnosticSetting")}


def test_without_deletion_protection_nothing_is_protected_or_locked(azure_run: Runner) -> None:
    run = azure_run(deletion_protection=False)
    assert not any(r.protect for r in run.run.resources)
    assert run.of_type("authorization:ManagementLockByScope") == []
    policy = run.named("storage:StorageAccount", "acme-logs").inputs["immutableStorageWithVersioning"]
    assert policy["immutabilityPolicy"]["state"] == "Unlocked"


def test_every_stateful_resource_is_protected_by_default(azure_run: Runner) -> None:
    from infra.azure.policy import STATEFUL_TYPES

    run = azure_run()
    stateful = [r for r in run.run.resources if r.type in STATEFUL_TYPES]
    assert len(stateful) >= 8
    assert all(r.protect for r in stateful)
    # and Azure itself refuses to delete the data services: a CanNotDelete lock on each
    locks = run.of_type("authorization:ManagementLockByScope")
    assert all(lock.inputs["level"] == "CanNotDelete" for lock in locks)
    data_services = [
        run.one("dbformysql:Server"),
        run.one("redisenterprise:RedisEnterprise"),
        run.one("keyvault:Vault"),
        *run.of_type("storage:StorageAccount"),
    ]
    assert {lock.inputs["scope"] for lock in locks} == {out(r, "id") for r in data_services}


def test_a_spec_for_another_cloud_is_refused() -> None:
    from infra.azure import build
    from tests.infra.cloud_harness import run_build

    spec = make_spec(cloud="aws", region="eu-west-1", storage={"mode": "managed"})
    with pytest.raises(Exception, match=r"infra\.azure builds Azure tenants"):
        run_build(spec, build, fakers={}, invokes={}, config={})
