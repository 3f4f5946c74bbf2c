"""What every Azure part shares: the region-pinned provider, the tenant's resource group, naming and roles.

Kept to helpers that more than one part needs; each part's own logic stays in its module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import authorization, resources

from infra.cloud import BuildContext, CloudContext, Part, PartComponent

# Built-in role definition ids (the same GUID in every subscription).
ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE_KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
ROLE_KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# The cluster's Kubernetes API under Azure RBAC: full access, and the right to fetch a kubeconfig
# ("Azure built-in roles", Containers, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers).
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
ROLE_AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"

_SUBSCRIPTION_IN_ID = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)
# The one name every Enclave stack gives its subscription claim (see `claim_subscription`): deliberately not
# tenant-prefixed, so a second tenant's stack in the same subscription collides with it.
SUBSCRIPTION_CLAIM_GROUP = "enclave-subscription-claim"


@dataclass(frozen=True)
class AzureContext(CloudContext):
    """Where a tenant's Azure resources live: its resource group, in its region, through its provider."""

    provider: azure_native.Provider
    resource_group: resources.ResourceGroup

    @property
    def location(self) -> str:
        return self.ctx.spec.region

    @property
    def group_name(self) -> pulumi.Output[str]:
        return self.resource_group.name

    @property
    def subscription_id(self) -> pulumi.Output[str]:
        """Read from the resource group's id, so no data-source invoke is needed."""
        return self.resource_group.id.apply(subscription_of)


def subscription_of(resource_id: str) -> str:
    """The subscription id in an ARM resource id (`/subscriptions/<id>/...`)."""
    match = _SUBSCRIPTION_IN_ID.match(resource_id)
    if match is None:
        raise ValueError(f"not an Azure resource id (expected /subscriptions/<id>/...): {resource_id!r}")
    return match.group(1)


def global_name(tenant: str, part: str, *, max_length: int, hyphens: bool = True) -> str:
    """A name for services whose names are global DNS labels (Key Vault, storage accounts, MySQL, Redis).

    Tenant-prefixed and readable, with a short hash of the full `<tenant>-<part>` so that names stay distinct
    after truncation or hyphen removal (tenants `a-bc` and `ab-c` would otherwise both give `abc...`).
    """
    digest = hashlib.sha256(f"{tenant}-{part}".encode()).hexdigest()[:6]
    if hyphens:
        stem = f"{tenant}-{part}"[: max_length - len(digest) - 1].rstrip("-")
        return f"{stem}-{digest}"
    stem = f"{tenant}{part}".replace("-", "")[: max_length - len(digest)]
    return f"{stem}{digest}"


class SubscriptionClaim(PartComponent):
    """Claim the subscription for this tenant: the isolation boundary on Azure is one subscription per tenant.

    Some of what a stack needs is subscription-wide: the network watcher its flow logs live under
    (`NetworkWatcherRG`), the `EncryptionAtHost` feature, resource-provider registrations, and the regional
    vCPU, public IP and diagnostic-setting quotas. Two tenants in one subscription would share them, and each
    tenant's operators could act on the other's resources. So every stack creates one empty resource group
    with the same fixed name, tagged with its tenant, and the tenant's own resource group (which holds
    everything else) waits for it. The azure-native provider checks that a resource does not exist before
    creating it and fails with "cannot create already existing resource" (pulumi/pulumi-azure-native#303,
    "Robust resource existence check"; the same message in #1722), so a second tenant's `pulumi up` in the
    subscription stops at the claim, before it creates anything. The group is protected while deletion
    protection is on and released by `pulumi destroy`.
    """

    part = Part.SERVICES  # what the stack holds at subscription level
    group: resources.ResourceGroup

    def __init__(self, ctx: BuildContext, provider: azure_native.Provider, location: str) -> None:
        super().__init__(ctx)
        self.group = resources.ResourceGroup(
            ctx.name("subscription-claim"),
            resource_group_name=SUBSCRIPTION_CLAIM_GROUP,
            location=location,
            tags=ctx.tags,
            opts=ctx.within(self).opts(stateful=True, provider=provider),
        )
        self.publish(claim=self.group.name)


def create_scope(ctx: BuildContext) -> AzureContext:
    """The provider pinned to the tenant's subscription and region, the subscription claim, and the tenant's
    resource group (which waits for the claim)."""
    spec = ctx.spec
    # Pinned to the spec's subscription when it names one (always, for `pulumi up`: infra/program.py), so the
    # stack never lands in whatever subscription the operator's login happens to point at.
    provider = azure_native.Provider(
        ctx.name("azure"), location=spec.region, subscription_id=spec.azure_subscription_id, opts=ctx.opts()
    )
    claim = SubscriptionClaim(ctx, provider, spec.region).group
    group = resources.ResourceGroup(
        ctx.name("rg"),
        resource_group_name=ctx.name("rg"),
        location=spec.region,
        tags=ctx.tags,
        opts=ctx.opts(stateful=True, provider=provider, depends_on=[claim]),
    )
    return AzureContext(ctx=ctx, provider=provider, resource_group=group)


def lock_against_deletion(scope: AzureContext, part: str, resource_id: pulumi.Input[str]) -> None:
    """A CanNotDelete lock on one data-bearing resource while deletion protection is on: Azure's deletion
    protection for services without a flag of their own (MySQL, Redis, storage, Key Vault), enforced by ARM
    for every client, not only Pulumi. Only these resources are locked, so updates that replace stateless
    parts (subnets, role assignments) still go through."""
    ctx = scope.ctx
    if not scope.deletion_protection:
        return
    authorization.ManagementLockByScope(
        ctx.name(f"{part}-lock"),
        lock_name=ctx.name(f"{part}-no-delete"),
        scope=resource_id,
        level=authorization.LockLevel.CAN_NOT_DELETE,
        notes="Enclave tenant data: turn deletion_protection off in the tenant spec before destroying.",
        opts=scope.opts(),
    )


def grant_role(
    scope: AzureContext,
    part: str,
    *,
    principal_id: pulumi.Input[str],
    role: str,
    on: pulumi.Input[str],
    principal_type: pulumi.Input[authorization.PrincipalType] = authorization.PrincipalType.SERVICE_PRINCIPAL,
) -> authorization.RoleAssignment:
    """Grant a built-in role to a principal (a managed identity unless `principal_type` says otherwise), scoped
    to one of the tenant's own resources. The type must be the principal's own: ARM refuses an assignment whose
    principalType does not match the principal (and the provider defaults it to User)."""
    role_definition_id = scope.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )
    return authorization.RoleAssignment(
        scope.ctx.name(part),
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=role_definition_id,
        scope=on,
        opts=scope.opts(),
    )
