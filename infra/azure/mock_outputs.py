"""What Azure would compute for the resources and invokes the Azure module reads, for runs under Pulumi mocks.

Every resource gets a well-formed ARM id and its physical name (the code derives the subscription, role
scopes and diagnostic targets from ids); the few that hand back endpoints or identities get plausible ones.
Values are derived from the inputs (deterministically), never fixed per test.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from infra.mockrun import MockPlace, OutputFaker

_MOCK_NAMESPACE = uuid.UUID("8f3b6a2e-5c1d-4e7f-9a0b-1c2d3e4f5a6b")

# type token -> ARM id path below /providers/ (formatted with the resource's inputs), physical-name input.
_ARM_PATHS: dict[str, tuple[str, str]] = {
    "azure-native:network:VirtualNetwork": (
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}",
        "virtualNetworkName",
    ),
    "azure-native:network:Subnet": (
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}",
        "subnetName",
    ),
    "azure-native:network:NetworkSecurityGroup": (
        "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}",
        "networkSecurityGroupName",
    ),
    "azure-native:network:PublicIPAddress": (
        "Microsoft.Network/publicIPAddresses/{publicIpAddressName}",
        "publicIpAddressName",
    ),
    "azure-native:network:NatGateway": ("Microsoft.Network/natGateways/{natGatewayName}", "natGatewayName"),
    "azure-native:network:PrivateEndpoint": (
        "Microsoft.Network/privateEndpoints/{privateEndpointName}",
        "privateEndpointName",
    ),
    "azure-native:network:PrivateDnsZoneGroup": (
        "Microsoft.Network/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups/{privateDnsZoneGroupName}",
        "privateDnsZoneGroupName",
    ),
    "azure-native:network:FlowLog": (
        "Microsoft.Network/networkWatchers/{networkWatcherName}/flowLogs/{flowLogName}",
        "flowLogName",
    ),
    "azure-native:network:VirtualNetworkPeering": (
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}/virtualNetworkPeerings/{virtualNetworkPeeringName}",
        "virtualNetworkPeeringName",
    ),
    "azure-native:privatedns:PrivateZone": ("Microsoft.Network/privateDnsZones/{privateZoneName}", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": (
        "Microsoft.Network/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{virtualNetworkLinkName}",
        "virtualNetworkLinkName",
    ),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults/{vaultName}", "vaultName"),
    "azure-native:keyvault:Key": ("Microsoft.KeyVault/vaults/{vaultName}/keys/{keyName}", "keyName"),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}",
        "resourceName",
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}"
        "/federatedIdentityCredentials/{federatedIdentityCredentialResourceName}",
        "federatedIdentityCredentialResourceName",
    ),
    "azure-native:containerservice:ManagedCluster": (
        "Microsoft.ContainerService/managedClusters/{resourceName}",
        "resourceName",
    ),
    "azure-native:dbformysql:Server": ("Microsoft.DBforMySQL/flexibleServers/{serverName}", "serverName"),
    "azure-native:dbformysql:Configuration": (
        "Microsoft.DBforMySQL/flexibleServers/{serverName}/configurations/{configurationName}",
        "configurationName",
    ),
    "azure-native:dbformysql:Database": (
        "Microsoft.DBforMySQL/flexibleServers/{serverName}/databases/{databaseName}",
        "databaseName",
    ),
    "azure-native:redisenterprise:RedisEnterprise": ("Microsoft.Cache/redisEnterprise/{clusterName}", "clusterName"),
    "azure-native:redisenterprise:Database": (
        "Microsoft.Cache/redisEnterprise/{clusterName}/databases/{databaseName}",
        "databaseName",
    ),
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts/{accountName}", "accountName"),
    "azure-native:storage:BlobServiceProperties": (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/{blobServicesName}",
        "blobServicesName",
    ),
    "azure-native:storage:BlobContainer": (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "containerName",
    ),
}


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_MOCK_NAMESPACE, "/".join(parts)))


def _identity_response(identity: Any) -> dict[str, Any] | None:
    """Azure takes user-assigned identities as a list of ids and returns them as a map of id -> details."""
    if not isinstance(identity, Mapping) or not isinstance(identity.get("userAssignedIdentities"), list):
        return None
    assigned = {
        str(i): {"principalId": _guid("principal", str(i)), "clientId": _guid("client", str(i))}
        for i in identity["userAssignedIdentities"]
    }
    return {**identity, "userAssignedIdentities": assigned}


def _arm_resource(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    path, name_input = _ARM_PATHS[type_token]
    physical = str(inputs.get(name_input) or name)
    group = inputs.get("resourceGroupName", "mock-rg")
    values = {key: str(value) for key, value in inputs.items() if isinstance(value, str)}
    values.setdefault(name_input, physical)
    arm_path = path.format_map(values)
    outputs: dict[str, Any] = {
        "id": f"/subscriptions/{place.account}/resourceGroups/{group}/providers/{arm_path}",
        "name": physical,
    }
    if (identity := _identity_response(inputs.get("identity"))) is not None:
        outputs["identity"] = identity
    return outputs


def _resource_group(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    group = str(inputs.get("resourceGroupName") or name)
    return {"id": f"/subscriptions/{place.account}/resourceGroups/{group}", "name": group}


def _role_assignment(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    guid = _guid(type_token, name)
    return {"id": f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{guid}", "name": guid}


def _lock(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    lock = str(inputs.get("lockName") or name)
    return {"id": f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/locks/{lock}", "name": lock}


def _diagnostic_setting(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    setting = str(inputs.get("name") or name)
    target = inputs.get("resourceUri", "")
    return {"id": f"{target}/providers/Microsoft.Insights/diagnosticSettings/{setting}", "name": setting}


def _identity(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_arm_resource(place, type_token, name, inputs),
        "principalId": _guid("principal", name),
        "clientId": _guid("client", name),
        "tenantId": _guid("entra-tenant"),
    }


def _key(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    vault, key = str(inputs.get("vaultName", "vault")), str(inputs.get("keyName", name))
    uri = f"https://{vault}.vault.azure.net/keys/{key}"
    version = _key_version(vault, key, "created")
    return {**_arm_resource(place, type_token, name, inputs), "keyUri": uri, "keyUriWithVersion": f"{uri}/{version}"}


def _cluster(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    location = inputs.get("location", place.region)
    cluster = inputs.get("resourceName", name)
    return {
        **_arm_resource(place, type_token, name, inputs),
        "privateFQDN": f"{cluster}-{_guid(name)[:8]}.privatelink.{location}.azmk8s.io",
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{location}.oic.prod-aks.azure.com/{_guid('entra-tenant')}/{_guid('oidc', name)}/",
        },
    }


def _mysql(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    server = inputs.get("serverName", name)
    return {
        **_arm_resource(place, type_token, name, inputs),
        "fullyQualifiedDomainName": f"{server}.mysql.database.azure.com",
    }


def _managed_redis(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    cluster = inputs.get("clusterName", name)
    return {
        **_arm_resource(place, type_token, name, inputs),
        "hostName": f"{cluster}.{inputs.get('location', place.region)}.redis.azure.net",
    }


def _storage_account(place: MockPlace, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    account = inputs.get("accountName", name)
    return {
        **_arm_resource(place, type_token, name, inputs),
        "primaryEndpoints": {"blob": f"https://{account}.blob.core.windows.net/"},
    }


def _cluster_user_credentials(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    cluster = args.get("resourceName", "cluster")
    ca = base64.b64encode(f"-----BEGIN CERTIFICATE-----\nmock CA for {cluster}\n".encode()).decode()
    kubeconfig = (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster}\n  cluster:\n"
        f"    server: https://{cluster}.privatelink.{place.region}.azmk8s.io:443\n"
        f"    certificate-authority-data: {ca}\n"
        f"contexts: []\nusers: []\n"
    )
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}


def _database_keys(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    database = f"{args.get('clusterName', 'cache')}/{args.get('databaseName', 'default')}"
    return {
        "primaryKey": base64.b64encode(hashlib.sha256(f"primary/{database}".encode()).digest()).decode(),
        "secondaryKey": base64.b64encode(hashlib.sha256(f"secondary/{database}".encode()).digest()).decode(),
    }


ROTATED = "rotated"  # the offline stand-in for "the key has been rotated since it was created"


def _key_version(vault: str, key: str, generation: str) -> str:
    return hashlib.sha256(f"{vault}/{key}/{generation}".encode()).hexdigest()[:32]


def _current_key(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The key's current version as Key Vault reports it: in the stand-in, a version newer than the one the key
    was created with (as after a rotation), so a service pinned to the creation version shows up as stale."""
    vault, key = str(args.get("vaultName", "vault")), str(args.get("keyName", "key"))
    uri = f"https://{vault}.vault.azure.net/keys/{key}"
    return {"keyUri": uri, "keyUriWithVersion": f"{uri}/{_key_version(vault, key, ROTATED)}", "name": key}


def _client_config(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Who runs the offline preview's `pulumi up`: a stand-in principal of the stand-in subscription."""
    return {
        "clientId": _guid("deployer-client"),
        "objectId": _guid("deployer"),
        "subscriptionId": place.account,
        "tenantId": _guid("entra-tenant"),
    }


def _feature_registration(place: MockPlace, token: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """A registered feature: the offline preview cannot read the subscription, so it assumes the operator's
    one-time registration step (docs/tenant-stack.md) was done; `pulumi up` reads the real state."""
    namespace, feature = str(args.get("providerNamespace")), str(args.get("featureName"))
    return {
        "id": f"/subscriptions/{place.account}/providers/Microsoft.Features/featureProviders/{namespace}"
        f"/subscriptionFeatureRegistrations/{feature}",
        "name": feature,
        "properties": {"featureName": feature, "providerNamespace": namespace, "state": "Registered"},
    }


FAKERS: dict[str, OutputFaker] = {
    **dict.fromkeys(_ARM_PATHS, _arm_resource),
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:authorization:RoleAssignment": _role_assignment,
    "azure-native:monitor:DiagnosticSetting": _diagnostic_setting,
    "azure-native:authorization:ManagementLockByScope": _lock,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:keyvault:Key": _key,
    "azure-native:containerservice:ManagedCluster": _cluster,
    "azure-native:dbformysql:Server": _mysql,
    "azure-native:redisenterprise:RedisEnterprise": _managed_redis,
    "azure-native:storage:StorageAccount": _storage_account,
}

# AKS hands out the API server's CA only through this call, and Redis's AUTH key is generated by the service;
# the cluster reads the subscription's EncryptionAtHost registration before it is created, the key's current
# version on every run, and who runs `pulumi up` (its Kubernetes role).
INVOKES: dict[str, OutputFaker] = {
    "azure-native:features:getSubscriptionFeatureRegistration": _feature_registration,
    "azure-native:containerservice:listManagedClusterUserCredentials": _cluster_user_credentials,
    "azure-native:redisenterprise:listDatabaseKeys": _database_keys,
    "azure-native:keyvault:getKey": _current_key,
    "azure-native:authorization:getClientConfig": _client_config,
}
