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
    ROLE_AKS_CLUSTER_USER,
    ROLE_AKS_RBAC_CLUSTER_ADMIN,
    ROLE_KEY_VAULT_CONTRIBUTOR,
    ROLE_KEY_VAULT_CRYPTO_USER,
    ROLE_NETWORK_CONTRIBUTOR,
    AzureContext,
    grant_role,
)
from infra.azure.kubeconfig import read_cluster_access, render_kubeconfig
from infra.cloud import NodePool, Part, PartComponent
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


def _kms(args: ClusterArgs) -> containerservice.AzureKeyVaultKmsArgsDict:
    """The KMS plugin takes a versioned key id; `key_id_with_version` is the key's current version, so the
    cluster follows the key's rotations (infra/azure/keys.py `current_version`)."""
    if args.vault_id is None:  # the customer's vault: reached over its own network settings
        return {"enabled": True, "key_id": args.key_id_with_version, "key_vault_network_access": "Public"}
    return {
        "enabled": True,
        "key_id": args.key_id_with_version,
        "key_vault_network_access": "Private",
        "key_vault_resource_id": args.vault_id,
    }


def _kubeconfig(
    scope: AzureContext, cluster: containerservice.ManagedCluster, access: Sequence[authorization.RoleAssignment]
) -> pulumi.Output[str]:
    """The kubeconfig the workload's Kubernetes provider uses; it resolves only once the deploying identity
    holds its Kubernetes role on the cluster (`access`), so no Kubernetes resource is sent before."""
    credentials = containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=scope.group_name,
        resource_name=cluster.name,
        format="exec",
        opts=pulumi.InvokeOutputOptions(parent=scope.ctx.parent, provider=scope.provider, depends_on=list(access)),
    )
    name = scope.ctx.name("aks")
    encoded = credentials.kubeconfigs.apply(lambda configs: configs[0].value)
    rendered = pulumi.Output.all(encoded, *(a.id for a in access)).apply(
        lambda values: render_kubeconfig(name, read_cluster_access(values[0]))
    )
    return pulumi.Output.secret(rendered)


@dataclass(frozen=True)
class ClusterArgs:
    zones: tuple[str, ...]
    avoid_cidrs: tuple[ipaddress.IPv4Network, ...]  # the tenant network and its peer: pods and services stay clear
    vnet_id: pulumi.Input[str]
    api_server_subnet_id: pulumi.Input[str]
    nodes_subnet_id: pulumi.Input[str]
    key_id_with_version: pulumi.Input[str]
    vault_id: pulumi.Input[str] | None  # the stack's private vault; None: the customer's
    nodes: NodePool
    operator_group_ids: tuple[str, ...]  # Entra groups whose members administer the Kubernetes API


class TenantCluster(PartComponent):
    part = Part.CLUSTER
    cluster: containerservice.ManagedCluster
    kubeconfig: pulumi.Output[str]  # secret
    gateway_identity: managedidentity.UserAssignedIdentity

    def __init__(self, scope: AzureContext, args: ClusterArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        control_plane = _identity(scope, "aks-identity")
        grants = [
            grant_role(
                scope,
                "aks-identity-network",
                principal_id=control_plane.principal_id,
                role=ROLE_NETWORK_CONTRIBUTOR,
                on=args.vnet_id,
            )
        ]
        if args.vault_id is not None:
            grants += _private_kms_grants(scope, control_plane, args.vault_id)
        ranges = cluster_ranges(list(args.avoid_cidrs))
        self.cluster = cluster = containerservice.ManagedCluster(
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
                "subnet_id": args.api_server_subnet_id,
            },
            public_network_access="Disabled",
            oidc_issuer_profile={"enabled": True},
            security_profile={
                "workload_identity": {"enabled": True},
                "azure_key_vault_kms": _kms(args),
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
                    "vm_size": args.nodes.machine_type,
                    "count": args.nodes.count_min,
                    "min_count": args.nodes.count_min,
                    "max_count": args.nodes.count_max,
                    "enable_auto_scaling": True,
                    "availability_zones": node_zones(args.zones),
                    "vnet_subnet_id": args.nodes_subnet_id,
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
        access = _kubernetes_access(scope, cluster, args.operator_group_ids)
        self.gateway_identity = gateway_identity = _identity(scope, "gateway-identity")
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
        self.kubeconfig = _kubeconfig(scope, cluster, access)
        self.publish(clusterName=cluster.name, gatewayIdentityClientId=gateway_identity.client_id)


# The Azure CLI's first-party application id: a provider logged in through `az login` reports it as its client
# id (the azurerm provider's client config does the same), and the principal is then the signed-in user; any
# other credential (service principal, managed identity, workload identity federation in CI) is a service
# principal of its own application.
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def deployer_principal_type(client_id: str) -> authorization.PrincipalType:
    """The type of the principal running `pulumi up`, from the provider's client id (see AZURE_CLI_APP_ID)."""
    if client_id == AZURE_CLI_APP_ID:
        return authorization.PrincipalType.USER
    return authorization.PrincipalType.SERVICE_PRINCIPAL


def _kubernetes_access(
    scope: AzureContext, cluster: containerservice.ManagedCluster, operator_groups: tuple[str, ...]
) -> list[authorization.RoleAssignment]:
    """Who may use the Kubernetes API. With Azure RBAC for Kubernetes authorization on and local accounts off,
    a caller needs an Azure role on the cluster for every Kubernetes request, the cluster's creator included
    ("Use Azure role-based access control for Kubernetes Authorization",
    https://learn.microsoft.com/azure/aks/manage-azure-rbac: assign "Azure Kubernetes Service RBAC Cluster
    Admin" for full access; "Azure Kubernetes Service Cluster User Role" lets a user run `az aks
    get-credentials`, https://learn.microsoft.com/azure/aks/control-kubeconfig-access).

    - The identity running `pulumi up` (its object id from the provider's client config) gets RBAC Cluster
      Admin on this cluster, so the workload's resources are not refused with 403; the program's own
      `listClusterUserCredential` call is covered by its Owner/Contributor role on the subscription. A new
      assignment can take a few minutes to take effect (same page): a first run that meets 403 succeeds on the
      next `pulumi up`.
    - Each operator group of the spec gets RBAC Cluster Admin and Cluster User Role, on this cluster only.
    Returns the deploying identity's assignment: what the workload's kubeconfig waits for."""
    client = authorization.get_client_config_output(
        opts=pulumi.InvokeOutputOptions(parent=scope.ctx.parent, provider=scope.provider)
    )
    deployer = grant_role(
        scope,
        "aks-deployer-admin",
        principal_id=client.object_id,
        role=ROLE_AKS_RBAC_CLUSTER_ADMIN,
        on=cluster.id,
        principal_type=client.client_id.apply(deployer_principal_type),
    )
    for index, group in enumerate(operator_groups):
        for part, role in (("admin", ROLE_AKS_RBAC_CLUSTER_ADMIN), ("user", ROLE_AKS_CLUSTER_USER)):
            grant_role(
                scope,
                f"aks-operators-{index}-{part}",
                principal_id=group,
                role=role,
                on=cluster.id,
                principal_type=authorization.PrincipalType.GROUP,
            )
    return [deployer]
