"""The Azure kit: a storage account (HTTPS and TLS 1.2 only, no anonymous access, Shared Key authorization off)
and a private container, or existing ones; the platform's identity gets a custom role with blob read, write and
create (no delete) on the container, under a role-assignment condition that confines it to the tenant's
prefix, and Storage Blob Delegator on the account, so that it can sign user-delegation SAS URLs
(storage_connector/azure.py, `azure_auth = user-delegation`).

Why not stored access policies: the azurerm provider has no resource for a blob container's stored access
policies (Set Container ACL is a data-plane call; hashicorp/terraform-provider-azurerm#17356 is open), and they
need Shared Key authorization on, with the account key in the platform's hands. docs/byob.md gives the manual
steps for customers who want that path.

`access_enabled = false` deletes both role assignments. Azure Storage caches role assignments and user
delegation keys, so URLs already issued stop after a delay; revoking the account's user delegation keys stops
them at once ("Revoke a user delegation SAS",
https://learn.microsoft.com/rest/api/storageservices/create-user-delegation-sas#revoke-a-user-delegation-sas).
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_azurerm.data_azurerm_resource_group import DataAzurermResourceGroup
from cdktf_cdktf_provider_azurerm.data_azurerm_storage_account import DataAzurermStorageAccount
from cdktf_cdktf_provider_azurerm.data_azurerm_storage_container import DataAzurermStorageContainer
from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from cdktf_cdktf_provider_azurerm.monitor_diagnostic_setting import (
    MonitorDiagnosticSetting,
    MonitorDiagnosticSettingEnabledLog,
)
from cdktf_cdktf_provider_azurerm.provider import AzurermProvider, AzurermProviderFeatures
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_azurerm.role_definition import RoleDefinition, RoleDefinitionPermissions
from cdktf_cdktf_provider_azurerm.storage_account import (
    StorageAccount,
    StorageAccountBlobProperties,
    StorageAccountBlobPropertiesContainerDeleteRetentionPolicy,
    StorageAccountBlobPropertiesCorsRule,
    StorageAccountBlobPropertiesDeleteRetentionPolicy,
    StorageAccountNetworkRules,
    StorageAccountSasPolicy,
)
from cdktf_cdktf_provider_azurerm.storage_container import StorageContainer

from infra.byob import rules
from infra.byob.terraform import KitStack, Skip, count_if, ref

BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
# Read (get, list), write (put blob, put block, put block list) and create; no delete, no tags, no ownership.
# https://learn.microsoft.com/azure/role-based-access-control/permissions/storage
DATA_ACTIONS = [f"{BLOBS}/read", f"{BLOBS}/write", f"{BLOBS}/add/action"]
# The documented pattern "Read or list blobs in named containers with a path", extended to writes:
# https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-examples
PREFIX_CONDITION = f"""(
 (
  !(ActionMatches{{'{BLOBS}/read'}} AND NOT SubOperationMatches{{'Blob.List'}})
  AND
  !(ActionMatches{{'{BLOBS}/write'}})
  AND
  !(ActionMatches{{'{BLOBS}/add/action'}})
 )
 OR
 (
  @Resource[{BLOBS}:path] StringStartsWith '${{var.prefix}}'
 )
)
AND
(
 (
  !(ActionMatches{{'{BLOBS}/read'}} AND SubOperationMatches{{'Blob.List'}})
 )
 OR
 (
  @Request[{BLOBS}:prefix] StringStartsWith '${{var.prefix}}'
 )
)"""
RETENTION_DAYS = 30
CORS_MAX_AGE_SECONDS = 3600
SAS_LONGEST = "0.01:00:00"  # Enclave's URLs live at most one hour (storage_connector/ttl.py)
CREATE_ACCOUNT = "var.create_storage_account"
STORAGE_LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")
BROWSERS = Skip(
    "CKV_AZURE_59",
    "browsers upload and download with signed URLs, so the account answers on its public endpoint; "
    "allowed_ip_ranges narrows who may reach it",
)


def build(stack: KitStack) -> None:
    _variables(stack)
    AzurermProvider(stack, "azurerm", features=[AzurermProviderFeatures()], storage_use_azuread=True)
    group = DataAzurermResourceGroup(stack, "group", name=ref("var.resource_group_name"))
    stack.annotate(group, "Your resource group that holds the storage account.")
    stack.local(
        "account_id",
        ref(
            "coalesce(one(azurerm_storage_account.account[*].id), "
            "one(data.azurerm_storage_account.existing_account[*].id))"
        ),
    )
    stack.local("container_scope", "${local.account_id}/blobServices/default/containers/${var.bucket_name}")
    _account(stack)
    _grant(stack)
    _diagnostics(stack)
    stack.output("storage_account", ref("var.storage_account_name"), "The storage account (--azure-account).")
    stack.tenant_outputs("--backend azure --azure-account ${var.storage_account_name} --azure-auth user-delegation")


def _variables(stack: KitStack) -> None:
    stack.tenant_variables(
        bucket=rules.AZURE_CONTAINER,
        bucket_description="The container: created by this kit, or an existing one (create_storage_account = false).",
        create="create_storage_account",
        switch="The switch: false deletes the platform's role assignments; URLs already issued stop once Azure "
        "Storage's cache expires (revoke the account's user delegation keys to stop them at once).",
    )
    stack.variable(
        "resource_group_name",
        type="string",
        required=True,
        rule=rules.AZURE_RESOURCE_GROUP,
        description="Your resource group for the storage account (it must exist).",
    )
    stack.variable(
        "storage_account_name",
        type="string",
        required=True,
        rule=rules.AZURE_ACCOUNT,
        description="The storage account: created by this kit, or an existing one.",
    )
    stack.variable(
        "platform_principal_id",
        type="string",
        required=True,
        rule=rules.AZURE_OBJECT_ID,
        description="The object id of the platform's service principal in your Microsoft Entra directory.",
    )
    stack.variable(
        "replication",
        type="string",
        default="ZRS",
        rule=rules.AZURE_REPLICATION,
        description="The account's redundancy. ZRS keeps the data in the region; the geo options copy it "
        "to the paired region.",
    )
    stack.variable(
        "allowed_ip_ranges",
        type="list(string)",
        default=[],
        list_rule=rules.IPV4_RANGE,
        description="If set, only these public ranges (your users and the platform's egress) may reach the "
        "account; empty: any network, with a valid signature.",
    )
    stack.variable(
        "log_analytics_workspace_id",
        type="string",
        default="",
        rule=rules.AZURE_RESOURCE_ID,
        description="An existing Log Analytics workspace for the blob logs; empty: the kit creates one.",
    )


def _account(stack: KitStack) -> None:
    created = count_if(CREATE_ACCOUNT)
    account = StorageAccount(
        stack,
        "account",
        name=ref("var.storage_account_name"),
        resource_group_name=ref("data.azurerm_resource_group.group.name"),
        location=ref("data.azurerm_resource_group.group.location"),
        account_kind="StorageV2",
        account_tier="Standard",
        account_replication_type=ref("var.replication"),
        https_traffic_only_enabled=True,
        min_tls_version="TLS1_2",
        allow_nested_items_to_be_public=False,
        shared_access_key_enabled=False,
        default_to_oauth_authentication=True,
        cross_tenant_replication_enabled=False,
        infrastructure_encryption_enabled=True,
        local_user_enabled=False,
        sftp_enabled=False,
        public_network_access_enabled=True,
        network_rules=StorageAccountNetworkRules(
            default_action=ref('length(var.allowed_ip_ranges) > 0 ? "Deny" : "Allow"'),
            ip_rules=Token.as_list(ref("var.allowed_ip_ranges")),
            bypass=["AzureServices"],
        ),
        sas_policy=StorageAccountSasPolicy(expiration_period=SAS_LONGEST, expiration_action="Log"),
        blob_properties=StorageAccountBlobProperties(
            versioning_enabled=True,
            delete_retention_policy=StorageAccountBlobPropertiesDeleteRetentionPolicy(days=RETENTION_DAYS),
            container_delete_retention_policy=StorageAccountBlobPropertiesContainerDeleteRetentionPolicy(
                days=RETENTION_DAYS
            ),
            cors_rule=[
                StorageAccountBlobPropertiesCorsRule(
                    allowed_origins=[ref("var.gateway_url")],
                    allowed_methods=["GET", "HEAD", "OPTIONS", "PUT"],
                    allowed_headers=[
                        "content-md5",
                        "content-type",
                        "x-ms-blob-content-type",
                        "x-ms-blob-type",
                        "x-ms-version",
                    ],
                    exposed_headers=["etag", "x-ms-request-id", "x-ms-version-id"],
                    max_age_in_seconds=CORS_MAX_AGE_SECONDS,
                )
            ],
        ),
        count=created,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(
        account,
        "The storage account (only when create_storage_account is true): HTTPS and TLS 1.2 only, no anonymous "
        "access, Shared Key off (Entra ID only), infrastructure encryption, versioning and 30-day soft delete, "
        "SAS longer than one hour logged, CORS for the gateway origin only; Terraform cannot destroy it.",
        BROWSERS,
        Skip(
            "CKV_AZURE_35",
            "denies by default when allowed_ip_ranges is set; a browser-facing account cannot "
            "know its users' addresses otherwise",
        ),
        Skip("CKV2_AZURE_33", "a private endpoint would hide the account from the browsers that use the signed URLs"),
        Skip(
            "CKV2_AZURE_1",
            "encrypted with Microsoft-managed keys plus infrastructure (double) encryption; add a "
            "customer-managed Key Vault key with azurerm_storage_account_customer_managed_key if your policy "
            "requires one",
        ),
        Skip("CKV_AZURE_33", "the account holds no queues: Enclave uses blobs only"),
    )
    existing = DataAzurermStorageAccount(
        stack,
        "existing_account",
        name=ref("var.storage_account_name"),
        resource_group_name=ref("var.resource_group_name"),
        count=count_if(f"!{CREATE_ACCOUNT}"),
    )
    stack.annotate(existing, "Reads the existing storage account (create_storage_account = false); changes nothing.")
    container = StorageContainer(
        stack,
        "container",
        name=ref("var.bucket_name"),
        storage_account_id=ref("local.account_id"),
        container_access_type="private",
        count=created,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
    )
    stack.annotate(
        container,
        "The private container (only with a new account); Terraform cannot destroy it.",
        Skip(
            "CKV2_AZURE_21",
            "blob reads, writes and deletes reach Log Analytics through the diagnostic setting "
            "blob_logs; storage insights would read classic logs with the account key, which this account refuses",
        ),
    )
    existing_container = DataAzurermStorageContainer(
        stack,
        "existing_container",
        name=ref("var.bucket_name"),
        storage_account_id=ref("local.account_id"),
        count=count_if(f"!{CREATE_ACCOUNT}"),
    )
    stack.annotate(existing_container, "Checks that the existing container is there; changes nothing.")


def _grant(stack: KitStack) -> None:
    role = RoleDefinition(
        stack,
        "objects_role",
        name="Enclave ${var.tenant} blob objects (${var.storage_account_name})",
        # A custom role's assignable scopes are management groups, subscriptions or resource groups, never a
        # single resource: https://learn.microsoft.com/azure/role-based-access-control/role-definitions#assignablescopes
        scope=ref("data.azurerm_resource_group.group.id"),
        description="Read, write and create blobs; no delete, no tags, no account administration (BYOB kit)",
        permissions=[RoleDefinitionPermissions(data_actions=DATA_ACTIONS)],
        assignable_scopes=[ref("data.azurerm_resource_group.group.id")],
    )
    stack.annotate(
        role,
        "A custom role with blob read, write and create only (not Storage Blob Data Contributor, which can delete).",
    )
    objects = RoleAssignment(
        stack,
        "platform_objects",
        scope=ref("local.container_scope"),
        role_definition_id=ref("azurerm_role_definition.objects_role.role_definition_resource_id"),
        principal_id=ref("var.platform_principal_id"),
        principal_type="ServicePrincipal",
        condition=PREFIX_CONDITION,
        condition_version="2.0",
        description="Enclave ${var.tenant}: blobs under the tenant prefix (BYOB kit)",
        count=count_if("var.access_enabled"),
    )
    objects.add_override(
        "depends_on", ["azurerm_storage_container.container", "data.azurerm_storage_container.existing_container"]
    )
    stack.annotate(
        objects,
        "The platform's access to the container, confined to the prefix by a condition; "
        "access_enabled = false deletes it (the revoke switch).",
    )
    delegator = RoleAssignment(
        stack,
        "platform_delegation_keys",
        scope=ref("local.account_id"),
        role_definition_name="Storage Blob Delegator",
        principal_id=ref("var.platform_principal_id"),
        principal_type="ServicePrincipal",
        description="Enclave ${var.tenant}: user delegation keys for signed URLs (BYOB kit)",
        count=count_if("var.access_enabled"),
    )
    stack.annotate(
        delegator,
        "Lets the platform obtain user delegation keys (an account-level action; no data "
        "access by itself); access_enabled = false deletes it.",
    )


def _diagnostics(stack: KitStack) -> None:
    workspace = LogAnalyticsWorkspace(
        stack,
        "logs",
        name="enclave-${var.tenant}-storage-logs",
        resource_group_name=ref("data.azurerm_resource_group.group.name"),
        location=ref("data.azurerm_resource_group.group.location"),
        sku="PerGB2018",
        retention_in_days=365,
        count=count_if('var.log_analytics_workspace_id == ""'),
    )
    stack.annotate(
        workspace,
        "A Log Analytics workspace for the blob logs (only when log_analytics_workspace_id is empty), kept one year.",
    )
    setting = MonitorDiagnosticSetting(
        stack,
        "blob_logs",
        name="enclave-${var.tenant}-blob-logs",
        target_resource_id="${local.account_id}/blobServices/default",
        log_analytics_workspace_id=ref(
            "coalesce(var.log_analytics_workspace_id, one(azurerm_log_analytics_workspace.logs[*].id))"
        ),
        enabled_log=[MonitorDiagnosticSettingEnabledLog(category=c) for c in STORAGE_LOG_CATEGORIES],
    )
    stack.annotate(
        setting,
        "Diagnostic setting: every blob read, write and delete goes to the workspace (with "
        "the SAS's signed correlation id, the Enclave batch).",
    )
