"""The security-relevant properties of the committed Azure kit, read from its JSON and evaluated for a tenant's
values. No Azure RBAC emulator runs here (Azurite has no role assignments): the condition is checked as text
against Microsoft's documented attribute names."""

from __future__ import annotations

from typing import Any

from storage_connector.azure import AzureGrantSpec
from storage_connector.backends import parse_spec
from tests.infra.byob.terraform_eval import Scope, load_kit

ACCOUNT_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/acme/providers/Microsoft.Storage/"
    "storageAccounts/acmedata"
)
VALUES = {
    "tenant": "acme",
    "resource_group_name": "acme",
    "storage_account_name": "acmedata",
    "bucket_name": "enclave-acme",
    "prefix": "tenants/acme/",
    "platform_principal_id": "0f0e0d0c-0b0a-0908-0706-050403020100",
    "gateway_url": "https://acme.enclave.example.com",
}
ATTRIBUTES = {
    "azurerm_storage_account.account": {"id": ACCOUNT_ID},
    "data.azurerm_storage_account.existing_account": {"id": ACCOUNT_ID},
    "data.azurerm_resource_group.group": {
        "name": "acme",
        "location": "westeurope",
        "id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/acme",
    },
    "azurerm_role_definition.objects_role": {
        "role_definition_resource_id": "/providers/Microsoft.Authorization/roleDefinitions/x"
    },
    "azurerm_log_analytics_workspace.logs": {
        "id": "/subscriptions/s/resourceGroups/acme/providers/Microsoft.OperationalInsights/workspaces/w"
    },
}
KIT = load_kit("azure")
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def scope(**changes: Any) -> Scope:
    return Scope(KIT, {**VALUES, **changes}, ATTRIBUTES)


def test_the_account_refuses_anonymous_access_shared_keys_and_old_tls() -> None:
    account = scope().value(KIT["resource"]["azurerm_storage_account"]["account"])
    assert account["https_traffic_only_enabled"] is True and account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["shared_access_key_enabled"] is False and account["default_to_oauth_authentication"] is True
    assert account["infrastructure_encryption_enabled"] is True
    blob = account["blob_properties"]
    assert blob["versioning_enabled"] is True and blob["delete_retention_policy"]["days"] == 30
    assert [r["allowed_origins"] for r in blob["cors_rule"]] == [["https://acme.enclave.example.com"]]
    assert account["network_rules"]["default_action"] == "Allow"
    assert scope(allowed_ip_ranges=["203.0.113.0/24"]).value(account | {})["network_rules"]["default_action"] in (
        "Allow",
        "Deny",
    )
    firewalled = scope(allowed_ip_ranges=["203.0.113.0/24"]).value(
        KIT["resource"]["azurerm_storage_account"]["account"]
    )
    assert firewalled["network_rules"] == {
        "default_action": "Deny",
        "ip_rules": ["203.0.113.0/24"],
        "bypass": ["AzureServices"],
    }
    container = scope().value(KIT["resource"]["azurerm_storage_container"]["container"])
    assert container["container_access_type"] == "private"


def test_the_platform_role_reads_writes_and_creates_but_cannot_delete() -> None:
    role = scope().value(KIT["resource"]["azurerm_role_definition"]["objects_role"])
    [permissions] = role["permissions"]
    assert sorted(permissions["data_actions"]) == sorted([f"{BLOBS}/read", f"{BLOBS}/write", f"{BLOBS}/add/action"])
    group = ATTRIBUTES["data.azurerm_resource_group.group"]["id"]
    assert "actions" not in permissions and role["assignable_scopes"] == [group] and role["scope"] == group


def test_the_assignments_are_scoped_and_conditioned_on_the_prefix() -> None:
    s = scope()
    objects = s.value(KIT["resource"]["azurerm_role_assignment"]["platform_objects"])
    assert objects["scope"] == f"{ACCOUNT_ID}/blobServices/default/containers/enclave-acme"
    assert (
        objects["principal_id"] == VALUES["platform_principal_id"] and objects["principal_type"] == "ServicePrincipal"
    )
    assert objects["condition_version"] == "2.0"
    condition = objects["condition"]
    assert f"@Resource[{BLOBS}:path] StringStartsWith 'tenants/acme/'" in condition
    assert f"@Request[{BLOBS}:prefix] StringStartsWith 'tenants/acme/'" in condition
    for action in ("read", "write", "add/action"):
        assert f"!(ActionMatches{{'{BLOBS}/{action}'}}" in condition
    delegation = s.value(KIT["resource"]["azurerm_role_assignment"]["platform_delegation_keys"])
    assert delegation["role_definition_name"] == "Storage Blob Delegator" and delegation["scope"] == ACCOUNT_ID


def test_the_switch_removes_both_assignments() -> None:
    for name in ("platform_objects", "platform_delegation_keys"):
        assert scope().count("resource", "azurerm_role_assignment", name) == 1
        assert scope(access_enabled=False).count("resource", "azurerm_role_assignment", name) == 0


def test_blob_reads_and_writes_are_logged() -> None:
    setting = scope().value(KIT["resource"]["azurerm_monitor_diagnostic_setting"]["blob_logs"])
    assert setting["target_resource_id"] == f"{ACCOUNT_ID}/blobServices/default"
    assert {log["category"] for log in setting["enabled_log"]} == {"StorageRead", "StorageWrite", "StorageDelete"}
    assert setting["log_analytics_workspace_id"] == ATTRIBUTES["azurerm_log_analytics_workspace.logs"]["id"]
    own = (
        "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/soc/providers/"
        "Microsoft.OperationalInsights/workspaces/siem"
    )
    assert scope(log_analytics_workspace_id=own).count("resource", "azurerm_log_analytics_workspace", "logs") == 0


def test_an_existing_account_is_read_and_left_alone() -> None:
    s = scope(create_storage_account=False)
    assert s.count("resource", "azurerm_storage_account", "account") == 0
    assert s.count("resource", "azurerm_storage_container", "container") == 0
    assert s.count("data", "azurerm_storage_container", "existing_container") == 1


def test_bad_values_are_refused_by_the_kit() -> None:
    assert any("platform_principal_id" in e for e in scope(platform_principal_id="not-a-guid").validation_errors())
    assert any("storage_account_name" in e for e in scope(storage_account_name="Acme-Data").validation_errors())
    assert any("allowed_ip_ranges" in e for e in scope(allowed_ip_ranges=["0.0.0.0/0"]).validation_errors())
    assert scope().validation_errors() == []


def test_the_outputs_are_what_storage_connect_accepts() -> None:
    s = scope()
    outputs = {name: s.template(o["value"]) for name, o in KIT["output"].items()}
    spec = parse_spec(
        {
            "backend": "azure",
            "bucket": outputs["bucket"],
            "prefix": outputs["prefix"],
            "azure_account": outputs["storage_account"],
            "azure_auth": "user-delegation",
        }
    )
    assert isinstance(spec, AzureGrantSpec)
    assert spec.bucket == "enclave-acme" and spec.azure_account == "acmedata"
    assert "--azure-auth user-delegation" in outputs["enclave_storage_connect"]
