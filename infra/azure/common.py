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

from infra.cloud import BuildContext, CloudContext

# Built-in role definition ids (the same GUID in every subscription).
ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE_KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"

_SUBSCRIPTION_IN_ID = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)


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


def create_scope(ctx: BuildContext) -> AzureContext:
    """The region-pinned provider and the tenant's resource group."""
    spec = ctx.spec
    provider = azure_native.Provider(ctx.name("azure"), location=spec.region, opts=ctx.opts())
    group = resources.ResourceGroup(
        ctx.name("rg"),
        resource_group_name=ctx.name("rg"),
        location=spec.region,
        tags=ctx.tags,
        opts=ctx.opts(stateful=True, provider=provider),
    )
    return AzureContext(ctx=ctx, provider=provider, resource_group=group)


def lock_against_deletion(scope: AzureContext, part: str, resource_id: pulumi.Input[str]) -> None:
    """A CanNotDelete lock on one data-bearing resource while deletion protection is on: Azure's deletion
    protection for services without a flag of their own (MySQL, Redis, storage, Key Vault), enforced by ARM
    for every client, not only Pulumi. Only these resources are locked, so updates that replace stateless
    parts (subnets, role assignments) still go through."""
    ctx = scope.ctx
    if not ctx.spec.deletion_protection:
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
    scope: AzureContext, part: str, *, principal_id: pulumi.Input[str], role: str, on: pulumi.Input[str]
) -> authorization.RoleAssignment:
    """Grant a built-in role to a managed identity, scoped to one of the tenant's own resources."""
    role_definition_id = scope.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )
    return authorization.RoleAssignment(
        scope.ctx.name(part),
        principal_id=principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=role_definition_id,
        scope=on,
        opts=scope.opts(),
    )
