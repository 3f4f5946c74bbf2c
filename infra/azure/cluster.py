"""The tenant's private AKS cluster and the gateway's workload identity.

Private API server (VNet-integrated, no public FQDN), Entra ID only (local accounts off, Azure RBAC), etcd
secrets encrypted by the KMS plugin with the tenant key, OIDC issuer + workload identity, node pools from the
size preset spread over the region's zones (unzoned in a region without them), host-based encryption of the
nodes' disks, egress through the tenant's NAT gateway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, containerservice, features, managedidentity

from infra.azure.common import (
    ROLE_KEY_VAULT_CONTRIBUTOR,
    ROLE_KEY_VAULT_CRYPTO_USER,
    ROLE_NETWORK_CONTRIBUTOR,
    AzureContext,
    grant_role,
)
from infra.azure.keys import TenantKeys
from infra.azure.kubeconfig import read_cluster_access, render_kubeconfig
from infra.azure.network import TenantNetwork
from infra.workload import NAMESPACE as GATEWAY_NAMESPACE
from infra.workload import SERVICE_ACCOUNT as GATEWAY_SERVICE_ACCOUNT

WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"
# Host-based encryption is a subscription feature that must be registered before a node pool can use it.
ENCRYPTION_AT_HOST_NAMESPACE = "Microsoft.Compute"
ENCRYPTION_AT_HOST_FEATURE = "EncryptionAtHost"

# Overlay ranges for pods and services (never routed outside the cluster, but they must not collide with
# anything the pods talk to): the first candidate clear of the tenant network and its peer is used.
_POD_CIDR_CANDIDATES = ("10.244.0.0/16", "172.30.0.0/16", "192.168.0.0/16")
_SERVICE_CIDR_CANDIDATES = ("10.0.0.0/16", "172.31.0.0/16", "192.168.0.0/16")


@dataclass(frozen=True)
class ClusterRanges:
    pod_cidr: str
    service_cidr: str
    dns_service_ip: str


def cluster_ranges(avoid: Sequence[ipaddress.IPv4Network]) -> ClusterRanges:
    def first_clear(candidates: Sequence[str], taken: Sequence[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
        for candidate in candidates:
            network = ipaddress.IPv4Network(candidate)
            if not any(network.overlaps(other) for other in taken):
                return network
        raise ValueError(
            f"no free pod/service range: all of {', '.join(candidates)} overlap {', '.join(map(str, taken))}"
        )

    pods = first_clear(_POD_CIDR_CANDIDATES, avoid)
    services = first_clear(_SERVICE_CIDR_CANDIDATES, [*avoid, pods])
    return ClusterRanges(pod_cidr=str(pods), service_cidr=str(services), dns_service_ip=str(services[10]))


class FeatureNotRegistered(RuntimeError):
    """A subscription feature the stack needs is not registered: an operator's one-time step."""


def require_registered(state: str | None) -> bool:
    """True when the EncryptionAtHost feature is registered; otherwise the operator's step, as a clear error.

    "Host-based encryption on Azure Kubernetes Service (AKS)", Before you begin: the subscription must have the
    `EncryptionAtHost` feature of `Microsoft.Compute` registered before a node pool enables it
    (https://learn.microsoft.com/azure/aks/enable-host-encryption). The program reads the registration rather
    than creating it: a feature registration is subscription-wide, and creating it as a resource fails with
    "cannot create already existing resource" whether or not it is registered (pulumi/pulumi-azure-native#1722).
    """
    if (state or "").lower() == "registered":
        return True
    raise FeatureNotRegistered(
        f"the subscription's {ENCRYPTION_AT_HOST_NAMESPACE}/{ENCRYPTION_AT_HOST_FEATURE} feature is "
        f"{state or 'not registered'}: AKS node pools with host-based encryption need it. Run once per subscription: "
        f"`az feature register --namespace {ENCRYPTION_AT_HOST_NAMESPACE} --name {ENCRYPTION_AT_HOST_FEATURE}`, wait "
        f"until `az feature show --namespace {ENCRYPTION_AT_HOST_NAMESPACE} --name {ENCRYPTION_AT_HOST_FEATURE}` "
        f"says Registered, then `az provider register --namespace {ENCRYPTION_AT_HOST_NAMESPACE}`, and run "
        "`pulumi up` again"
    )


def encryption_at_host(scope: AzureContext) -> pulumi.Output[bool]:
    """`enable_encryption_at_host` for the node pools: True once the feature registration is confirmed, so the
    cluster is never sent to Azure (which would reject it deep into its creation) when the feature is missing."""
    registration = features.get_subscription_feature_registration_output(
        feature_name=ENCRYPTION_AT_HOST_FEATURE,
        provider_namespace=ENCRYPTION_AT_HOST_NAMESPACE,
        opts=pulumi.InvokeOutputOptions(parent=scope.ctx.parent, provider=scope.provider),
    )
    # A registration without properties (never seen, but the API allows it) counts as not registered.
    return registration.properties.apply(lambda properties: require_registered(getattr(properties, "state", None)))


def node_zones(zones: tuple[str, ...]) -> list[str] | None:
    """The zones node pools spread over; None (no zone pinning) in a region without availability zones, where
    AKS refuses a zone list ("Create an AKS cluster that uses availability zones", Limitations:
    https://learn.microsoft.com/azure/aks/availability-zones)."""
    return list(zones) or None


@dataclass(frozen=True)
class TenantCluster:
    cluster: containerservice.ManagedCluster
    kubeconfig: pulumi.Output[str]  # secret
    gateway_identity: managedidentity.UserAssignedIdentity


def _identity(scope: AzureContext, part: str) -> managedidentity.UserAssignedIdentity:
    ctx = scope.ctx
    return managedidentity.UserAssignedIdentity(
        ctx.name(part),
        resource_name_=ctx.name(part),
        resource_group_name=scope.group_name,
        location=scope.location,
        tags=ctx.tags,
        opts=scope.opts(),
    )


def _private_kms_grants(
    scope: AzureContext, control_plane: managedidentity.UserAssignedIdentity, vault_id: pulumi.Input[str]
) -> list[authorization.RoleAssignment]:
    """What the cluster identity needs on the tenant's private vault before KMS is turned on: Key Vault Crypto
    User to wrap and unwrap with the key, and Key Vault Contributor, because with a private vault
    (`keyVaultNetworkAccess: Private`) AKS creates a private endpoint (private link) to the vault as that
    identity ("Add KMS etcd encryption to an AKS cluster", Turn on KMS for a private key vault:
    https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption). Both are scoped to the vault alone. Key
    Vault Contributor manages the vault (not its keys' contents); it is the role the documentation requires."""
    return [
        grant_role(
            scope,
            "aks-identity-kms",
            principal_id=control_plane.principal_id,
            role=ROLE_KEY_VAULT_CRYPTO_USER,
            on=vault_id,
        ),
        grant_role(
            scope,
            "aks-identity-kms-private-link",
            principal_id=control_plane.principal_id,
            role=ROLE_KEY_VAULT_CONTRIBUTOR,
            on=vault_id,
        ),
    ]


def _kms(keys: TenantKeys) -> containerservice.AzureKeyVaultKmsArgsDict:
    if keys.vault is None:  # the customer's vault: reached over its own network settings
        return {"enabled": True, "key_id": keys.key_id_with_version, "key_vault_network_access": "Public"}
    return {
        "enabled": True,
        "key_id": keys.key_id_with_version,
        "key_vault_network_access": "Private",
        "key_vault_resource_id": keys.vault.id,
    }


def _kubeconfig(scope: AzureContext, cluster: containerservice.ManagedCluster) -> pulumi.Output[str]:
    credentials = containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=scope.group_name,
        resource_name=cluster.name,
        format="exec",
        opts=pulumi.InvokeOutputOptions(parent=scope.ctx.parent, provider=scope.provider),
    )
    name = scope.ctx.name("aks")
    rendered = credentials.kubeconfigs.apply(
        lambda configs: render_kubeconfig(name, read_cluster_access(configs[0].value))
    )
    return pulumi.Output.secret(rendered)


def build_cluster(scope: AzureContext, net: TenantNetwork, keys: TenantKeys) -> TenantCluster:
    ctx = scope.ctx
    spec = ctx.spec
    preset = spec.preset
    control_plane = _identity(scope, "aks-identity")
    grants = [
        grant_role(
            scope,
            "aks-identity-network",
            principal_id=control_plane.principal_id,
            role=ROLE_NETWORK_CONTRIBUTOR,
            on=net.vnet.id,
        )
    ]
    if keys.vault is not None:
        grants += _private_kms_grants(scope, control_plane, keys.vault.id)
    avoid = [spec.network_cidr] + ([spec.connectivity.peering.peer_cidr] if spec.connectivity.peering else [])
    ranges = cluster_ranges(avoid)
    cluster = containerservice.ManagedCluster(
        ctx.name("aks"),
        resource_name_=ctx.name("aks"),
        resource_group_name=scope.group_name,
        location=scope.location,
        dns_prefix=ctx.name("aks"),
        node_resource_group=ctx.name("aks-nodes"),
        node_resource_group_profile={"restriction_level": "ReadOnly"},
        sku={"name": "Base", "tier": "Standard"},
        identity={
            "type": containerservice.ResourceIdentityType.USER_ASSIGNED,
            "user_assigned_identities": [control_plane.id],
        },
        enable_rbac=True,
        disable_local_accounts=True,
        aad_profile={"managed": True, "enable_azure_rbac": True},
        api_server_access_profile={
            "enable_private_cluster": True,
            "enable_private_cluster_public_fqdn": False,
            "enable_vnet_integration": True,
            "subnet_id": net.api_server_subnet.id,
        },
        public_network_access="Disabled",
        oidc_issuer_profile={"enabled": True},
        security_profile={
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": _kms(keys),
            "image_cleaner": {"enabled": True, "interval_hours": 48},
        },
        addon_profiles={"azurepolicy": {"enabled": True}},
        auto_upgrade_profile={"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
        network_profile={
            "network_plugin": "azure",
            "network_plugin_mode": "overlay",
            "network_dataplane": "cilium",
            "network_policy": "cilium",
            "outbound_type": "userAssignedNATGateway",
            "load_balancer_sku": "standard",
            "pod_cidr": ranges.pod_cidr,
            "service_cidr": ranges.service_cidr,
            "dns_service_ip": ranges.dns_service_ip,
        },
        agent_pool_profiles=[
            {
                "name": "system",
                "mode": "System",
                "vm_size": preset.node_machine_type,
                "count": preset.node_count_min,
                "min_count": preset.node_count_min,
                "max_count": preset.node_count_max,
                "enable_auto_scaling": True,
                "availability_zones": node_zones(spec.zones),
                "vnet_subnet_id": net.nodes_subnet.id,
                "enable_node_public_ip": False,
                "enable_encryption_at_host": encryption_at_host(scope),
                "os_type": "Linux",
                "os_sku": "AzureLinux",
                "type": "VirtualMachineScaleSets",
                "tags": ctx.tags,
            }
        ],
        tags=ctx.tags,
        opts=scope.opts(depends_on=grants),
    )
    gateway_identity = _identity(scope, "gateway-identity")
    managedidentity.FederatedIdentityCredential(
        ctx.name("gateway-federation"),
        federated_identity_credential_resource_name=ctx.name("gateway-federation"),
        resource_name_=gateway_identity.name,
        resource_group_name=scope.group_name,
        issuer=cluster.oidc_issuer_profile.apply(lambda profile: profile.issuer_url if profile else None),
        subject=f"system:serviceaccount:{GATEWAY_NAMESPACE}:{GATEWAY_SERVICE_ACCOUNT}",
        audiences=[WORKLOAD_IDENTITY_AUDIENCE],
        opts=scope.opts(),
    )
    return TenantCluster(cluster=cluster, kubeconfig=_kubeconfig(scope, cluster), gateway_identity=gateway_identity)
