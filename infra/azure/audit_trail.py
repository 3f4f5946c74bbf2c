"""The audit trail: diagnostic settings that send each service's audit logs (AKS kube-audit, MySQL audit log,
Key Vault and storage access, Redis) to a tenant-owned log archive.

The archive is a storage account encrypted with the tenant key, closed to public networks (Azure Monitor and
Network Watcher write to it as trusted services), with account-level time-based immutability: every blob,
including the containers Azure Monitor creates, is write-once for the retention period.

The program creates the policy Unlocked: the storage API creates an immutability policy only in the Disabled or
Unlocked state, and only an Unlocked policy can move to Locked, which is irreversible ("A policy can only be
created in a Disabled or Unlocked state ... Only a policy in an Unlocked state can transition to a Locked
state", `AccountImmutabilityPolicyState` in the Storage resource provider API, 2023-05-01; "Configure
immutability policies for blob versions", https://learn.microsoft.com/azure/storage/blobs/immutable-policy-configure-version-scope).
An Unlocked policy already makes every blob write-once for the period, but it can be shortened or deleted.
Locking it (so that no one, the operator included, can shorten or remove it) is a documented step after the
first `pulumi up` while deletion protection is on (docs/tenant-stack.md, "Azure": `az storage account update
--immutability-state Locked`); the program then leaves the state alone (`ignore_changes`) so a later
`pulumi up` does not try to unlock it, which Azure refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor, storage

from infra.azure.common import AzureContext
from infra.azure.network import flow_log
from infra.azure.storage import AccountEncryption, AccountSettings, secure_account
from infra.cloud import Part, PartComponent

AUDIT_RETENTION_DAYS = 365


@dataclass(frozen=True)
class LogArchive:
    account: storage.StorageAccount


# Where the policy's state sits in the storage account's inputs: left to the operator's lock step after creation.
IMMUTABILITY_STATE_PATH = "immutableStorageWithVersioning.immutabilityPolicy.state"


def immutability() -> storage.ImmutableStorageAccountArgsDict:
    """Version-level immutability, created Unlocked (the only state besides Disabled that the API creates)."""
    return {
        "enabled": True,
        "immutability_policy": {
            "immutability_period_since_creation_in_days": AUDIT_RETENTION_DAYS,
            "state": storage.AccountImmutabilityPolicyState.UNLOCKED,
            "allow_protected_append_writes": True,  # log blobs are append blobs
        },
    }


def build_log_archive(scope: AzureContext, keys: AccountEncryption) -> LogArchive:
    account = secure_account(
        scope,
        keys,
        AccountSettings(
            part="logs",
            public_network_access=storage.PublicNetworkAccess.DISABLED,
            network_rules={"default_action": storage.DefaultAction.DENY, "bypass": storage.Bypass.AZURE_SERVICES},
            # Flow logs (and some Azure Monitor writers) still need account keys; the archive stays closed to
            # public networks and its blobs immutable, so a leaked key can neither read it remotely nor rewrite it.
            allow_shared_key_access=True,
            immutability=immutability(),
            ignore_changes=(IMMUTABILITY_STATE_PATH,),
        ),
    )
    return LogArchive(account=account)


@dataclass(frozen=True)
class AuditSource:
    """A resource whose logs are archived: by category names, or by category group (e.g. "audit")."""

    part: str
    resource_id: pulumi.Input[str]
    categories: Sequence[str] = field(default_factory=tuple)
    category_groups: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class AuditTrailArgs:
    encryption: AccountEncryption  # the archive's key
    vnet_id: pulumi.Input[str]  # whose flow logs the archive keeps
    sources: Sequence[AuditSource]


class AuditTrail(PartComponent):
    part = Part.AUDIT_TRAIL
    archive: LogArchive
    settings: dict[str, monitor.DiagnosticSetting]  # by source part

    def __init__(self, scope: AzureContext, args: AuditTrailArgs) -> None:
        super().__init__(scope.ctx)
        scope = scope.within(self)
        ctx = scope.ctx
        self.archive = build_log_archive(scope, args.encryption)
        flow_log(scope, args.vnet_id, self.archive.account.id)
        self.settings = {}
        for source in args.sources:
            if not source.categories and not source.category_groups:
                raise ValueError(f"audit source {source.part!r} names no log category or category group")
            logs: list[monitor.DiagnosticsLogSettingsArgsDict] = []
            logs.extend({"category": category, "enabled": True} for category in source.categories)
            logs.extend({"category_group": group, "enabled": True} for group in source.category_groups)
            self.settings[source.part] = monitor.DiagnosticSetting(
                ctx.name(f"{source.part}-audit"),
                name=ctx.name(f"{source.part}-audit"),
                resource_uri=source.resource_id,
                storage_account_id=self.archive.account.id,
                logs=logs,
                opts=scope.opts(),
            )
        self.publish(archive=self.archive.account.name, settings=[s.id for s in self.settings.values()])
