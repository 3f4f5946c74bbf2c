"""The GCP policy checks: silent on the stack the module builds, and each one catches what it is for."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infra.gcp import policy as t
from infra.gcp.policy import RULES
from infra.mockrun import MockedResource
from infra.policy.engine import check_graph, context_for, view_of
from infra.policy.model import PolicyContext, ResourceView, Rule
from infra.spec import TENANT_TAG
from tests.infra.cloud_harness import found
from tests.infra.gcp.conftest import GcpRun

RunFactory = Callable[..., GcpRun]
CONTEXT = PolicyContext(
    tenant="acme",
    deletion_protection=True,
    allowed_cidrs=(),
    own_cidrs=("10.20.0.0/16",),
    private_link_consumers=("customer-vpc-1",),
    gcp_project="acme-prod-123",
)


def view(resource: MockedResource, inputs: dict[str, Any] | None = None) -> ResourceView:
    """The resource as a check sees it, optionally with changed inputs."""
    changed = resource.inputs if inputs is None else inputs
    return ResourceView(resource.type, resource.name, resource.urn, changed, resource.protect)


def violations(run: GcpRun, deletion_protection: bool = True) -> list[str]:
    """Every GCP check's and graph check's finding on the run, in the context of the run's own spec."""
    context = replace(context_for(run.spec), deletion_protection=deletion_protection)
    gcp = [view_of(r) for r in run.run.resources if r.type.startswith("gcp:")]
    problems = [f"{v.rule} {v.resource_name}: {v.message}" for v in check_graph(gcp, context)]
    for resource in run.run.resources:
        for rule, checks in RULES.checks.items():
            check = checks.get(resource.type)
            message = found(check, view(resource), context) if check else None
            if message:
                problems.append(f"{rule} {resource.name}: {message}")
        if resource.type in RULES.taggable_types:
            field = RULES.tag_fields_by_type.get(resource.type, RULES.tag_field)
            if (resource.inputs.get(field) or {}).get(TENANT_TAG) != context.tenant:
                problems.append(f"tag {resource.name}")
    return problems


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_default_stack_of_every_size_passes(gcp_run: RunFactory, size: str) -> None:
    assert violations(gcp_run(size=size)) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"connectivity": {"private_link": True, "private_link_consumers": ["customer-vpc-1"]}},
        {
            "connectivity": {
                "peering": {"peer_network": "n", "peer_owner": "customer-vpc-1", "peer_cidr": "192.168.0.0/20"}
            }
        },
        {"storage": {"mode": "byob", "bucket": "customer-data", "customer_account": "customer-proj"}},
    ],
)
def test_variants_pass(gcp_run: RunFactory, overrides: dict[str, Any]) -> None:
    assert violations(gcp_run(**overrides)) == []


def test_unprotected_stack_passes_when_the_spec_allows_deletion(gcp_run: RunFactory) -> None:
    assert violations(gcp_run(deletion_protection=False), deletion_protection=False) == []
    assert any(Rule.DELETION_PROTECTION in v for v in violations(gcp_run(deletion_protection=False)))


_DELETE = object()  # as a value in BROKEN: remove the input


def _set(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(inputs)
    *parents, leaf = path.split(".")
    node = changed
    for step in parents:
        node = node.setdefault(step, {})
    if value is _DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return changed


# (rule, resource type, resource name or None, input path, bad value, words the message must contain)
BROKEN: list[tuple[Rule, str, str | None, str, Any, str]] = [
    (Rule.NO_PUBLIC_DATA, t.SQL, None, "settings.ipConfiguration.ipv4Enabled", True, "public IP"),
    (Rule.NO_PUBLIC_DATA, t.SQL, None, "settings.ipConfiguration.privateNetwork", _DELETE, "private network"),
    (
        Rule.NO_PUBLIC_DATA,
        t.SQL,
        None,
        "settings.ipConfiguration.authorizedNetworks",
        [{"value": "1.2.3.4/32"}],
        "authorizedNetworks",
    ),
    (Rule.NO_PUBLIC_DATA, t.REDIS, None, "connectMode", "DIRECT_PEERING", "PRIVATE_SERVICE_ACCESS"),
    (Rule.NO_PUBLIC_DATA, t.REDIS, None, "authEnabled", False, "authEnabled"),
    (Rule.NO_PUBLIC_DATA, t.BUCKET, "acme-data", "publicAccessPrevention", "inherited", "enforced"),
    (Rule.NO_PUBLIC_DATA, t.BUCKET, "acme-data", "uniformBucketLevelAccess", False, "uniformBucketLevelAccess"),
    (Rule.NO_PUBLIC_DATA, t.BUCKET_MEMBER, "acme-data-gateway", "member", "allUsers", "allUsers"),
    (Rule.ENCRYPTION_AT_REST, t.SQL, None, "encryptionKeyName", _DELETE, "encryptionKeyName"),
    (Rule.ENCRYPTION_AT_REST, t.REDIS, None, "customerManagedKey", _DELETE, "customerManagedKey"),
    (Rule.ENCRYPTION_AT_REST, t.BUCKET, "acme-audit", "encryption", _DELETE, "defaultKmsKeyName"),
    (Rule.ENCRYPTION_AT_REST, t.CLUSTER, None, "databaseEncryption.state", "DECRYPTED", "ENCRYPTED"),
    (
        Rule.TLS_IN_TRANSIT,
        t.SQL,
        None,
        "settings.ipConfiguration.sslMode",
        "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
        "ENCRYPTED_ONLY",
    ),
    (Rule.TLS_IN_TRANSIT, t.REDIS, None, "transitEncryptionMode", "DISABLED", "SERVER_AUTHENTICATION"),
    (Rule.DELETION_PROTECTION, t.SQL, None, "deletionProtection", False, "deletionProtection"),
    (Rule.DELETION_PROTECTION, t.SQL, None, "settings.backupConfiguration.binaryLogEnabled", False, "point-in-time"),
    (
        Rule.DELETION_PROTECTION,
        t.SQL,
        None,
        "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
        3,
        "retainedBackups >= 7",
    ),
    (
        Rule.DELETION_PROTECTION,
        t.SQL,
        None,
        "settings.backupConfiguration.backupRetentionSettings",
        _DELETE,
        "retainedBackups >= 7",
    ),
    (Rule.DELETION_PROTECTION, t.SQL, None, "settings.finalBackupConfig.enabled", False, "final backup"),
    (Rule.DELETION_PROTECTION, t.REDIS, None, "deletionProtection", False, "deletionProtection"),
    (Rule.DELETION_PROTECTION, t.CLUSTER, None, "deletionProtection", False, "deletionProtection"),
    (Rule.DELETION_PROTECTION, t.BUCKET, "acme-data", "forceDestroy", True, "forceDestroy"),
    (Rule.DELETION_PROTECTION, t.CRYPTO_KEY, None, "deletionPolicy", "DELETE", "PREVENT"),
    (Rule.DELETION_PROTECTION, t.CRYPTO_KEY, None, "rotationPeriod", _DELETE, "rotationPeriod"),
    (Rule.PRIVATE_CLUSTER_ENDPOINT, t.CLUSTER, None, "privateClusterConfig.enablePrivateNodes", False, "public IPs"),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        t.CLUSTER,
        None,
        "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled",
        True,
        "Google Cloud IPs",
    ),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        t.CLUSTER,
        None,
        "masterAuthorizedNetworksConfig.cidrBlocks",
        [{"cidrBlock": "0.0.0.0/0"}],
        "0.0.0.0/0",
    ),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        t.CLUSTER,
        None,
        "masterAuthorizedNetworksConfig.cidrBlocks",
        [{"cidrBlock": "0.0.0.0/1"}, {"cidrBlock": "128.0.0.0/1"}],
        "whole internet",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "gcp:projects/iAMMember:IAMMember",
        "acme-nodes-logging-logwriter",
        "role",
        "roles/owner",
        "basic role",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "gcp:projects/iAMMember:IAMMember",
        "acme-nodes-logging-logwriter",
        "role",
        "roles/editor",
        "basic role",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        t.BUCKET_MEMBER,
        "acme-data-gateway",
        "role",
        "roles/viewer",
        "basic role",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "gcp:projects/iAMMember:IAMMember",
        "acme-nodes-logging-logwriter",
        "project",
        "acme-corp-prod",
        "not the tenant's project",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        t.BUCKET_MEMBER,
        "acme-data-gateway",
        "member",
        "serviceAccount:gateway@acme-corp-prod.iam.gserviceaccount.com",
        "a principal of project 'acme-corp-prod'",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "gcp:serviceaccount/iAMMember:IAMMember",
        "acme-gateway-workload-identity",
        "member",
        "serviceAccount:acme-corp-prod.svc.id.goog[enclave/enclave-gateway]",
        "a principal of project 'acme-corp-prod'",
    ),
    (
        Rule.AUDIT_TRAIL,
        "gcp:projects/iAMAuditConfig:IAMAuditConfig",
        None,
        "auditLogConfigs",
        [{"logType": "ADMIN_READ"}],
        "DATA_READ",
    ),
    (Rule.TENANT_TAG, t.SQL, None, "settings.userLabels", {TENANT_TAG: "other"}, "settings.userLabels"),
    (Rule.TENANT_TAG, t.NODE_POOL, None, "nodeConfig.resourceLabels", _DELETE, "nodeConfig.resourceLabels"),
    (Rule.NO_CROSS_TENANT_SHARING, t.SQL, None, "name", "globex-mysql", "does not belong to tenant acme"),
    (Rule.NO_CROSS_TENANT_SHARING, t.SERVICE_ACCOUNT, "acme-gateway", "accountId", "shared-gateway", "acme-<part>"),
    (Rule.NO_CROSS_TENANT_SHARING, t.BUCKET, "acme-data", "name", "shared-data", "acme-<part>"),
]


def _pick(run: GcpRun, type_token: str, name: str | None) -> MockedResource:
    return run.one(type_token) if name is None else run.named(type_token, name)


@pytest.mark.parametrize(("rule", "type_token", "name", "path", "value", "words"), BROKEN)
def test_each_check_catches_its_failure(
    gcp_run: RunFactory, rule: Rule, type_token: str, name: str | None, path: str, value: Any, words: str
) -> None:
    resource = _pick(gcp_run(), type_token, name)
    check = RULES.checks[rule][type_token]
    assert found(check, view(resource), CONTEXT) == ""
    message = found(check, view(resource, _set(resource.inputs, path, value)), CONTEXT)
    assert words in message


@pytest.mark.parametrize(
    ("type_token", "name"),
    [(t.SQL, None), (t.REDIS, None), (t.BUCKET, "acme-data"), (t.CRYPTO_KEY, None), (t.KEY_RING, None)],
)
def test_stateful_resources_must_be_protected(gcp_run: RunFactory, type_token: str, name: str | None) -> None:
    resource = _pick(gcp_run(), type_token, name)
    unprotected = ResourceView(resource.type, resource.name, resource.urn, resource.inputs, protect=False)
    message = found(RULES.checks[Rule.DELETION_PROTECTION][type_token], unprotected, CONTEXT)
    assert "protect=True" in message


def test_service_attachment_must_accept_by_hand_from_listed_projects(gcp_run: RunFactory) -> None:
    run = gcp_run(connectivity={"private_link": True, "private_link_consumers": ["customer-vpc-1"]})
    attachment = run.one(t.SERVICE_ATTACHMENT)
    check = RULES.checks[Rule.NO_CROSS_TENANT_SHARING][t.SERVICE_ATTACHMENT]
    for path, value, words in [
        ("connectionPreference", "ACCEPT_AUTOMATIC", "ACCEPT_MANUAL"),
        ("consumerAcceptLists", [], "allow list"),
        ("consumerAcceptLists", [{"projectIdOrNum": "*", "connectionLimit": 10}], "accepts '*'"),
        ("consumerAcceptLists", [{"projectIdOrNum": "acme-corp-prod", "connectionLimit": 10}], "not among"),
    ]:
        message = found(check, view(attachment, _set(attachment.inputs, path, value)), CONTEXT)
        assert words in message


def _firewall(sources: list[str], ports: list[str]) -> ResourceView:
    inputs = {"direction": "INGRESS", "sourceRanges": sources, "allows": [{"protocol": "tcp", "ports": ports}]}
    return ResourceView(t.FIREWALL, "acme-fw", "urn:fw", inputs)


def test_open_ingress_is_refused_except_the_listener_without_an_allow_list() -> None:
    check = RULES.checks[Rule.NO_OPEN_INGRESS][t.FIREWALL]
    listed = PolicyContext(tenant="acme", deletion_protection=True, allowed_cidrs=("203.0.113.0/24",))
    assert found(check, _firewall(["0.0.0.0/0"], ["22"]), CONTEXT)
    assert found(check, _firewall(["0.0.0.0/0"], ["443"]), CONTEXT) == ""
    assert found(check, _firewall(["0.0.0.0/0"], ["443"]), listed)
    assert found(check, _firewall(["10.20.0.0/17"], ["22"]), CONTEXT) == ""
    assert found(check, _firewall(["10.0.0.0/8"], ["22"]), CONTEXT)  # beyond the tenant's own network
    assert "whole internet" in found(check, _firewall(["0.0.0.0/1", "128.0.0.0/1"], ["3306"]), CONTEXT)
    assert found(check, _firewall(["35.191.0.0/16", "130.211.0.0/22"], ["443"]), listed) == ""  # Google's checkers
    egress = ResourceView(t.FIREWALL, "e", "u", {"direction": "EGRESS", "destinationRanges": ["0.0.0.0/0"]})
    assert found(check, egress, CONTEXT) == ""


def test_only_internal_addresses_are_reserved(gcp_run: RunFactory) -> None:
    run = gcp_run(connectivity={"private_link": True, "private_link_consumers": ["customer-vpc-1"]})
    address = run.one(t.ADDRESS)
    check = RULES.checks[Rule.NO_OPEN_INGRESS][t.ADDRESS]
    assert found(check, view(address), CONTEXT) == ""
    external = view(address, _set(address.inputs, "addressType", "EXTERNAL"))
    assert "external address" in found(check, external, CONTEXT)


@pytest.mark.parametrize(("type_token", "field"), [(t.REDIS, "labels"), (t.CLUSTER, "resourceLabels")])
def test_taggable_resources_carry_the_tenant_label_in_their_tag_field(
    gcp_run: RunFactory, type_token: str, field: str
) -> None:
    resource = gcp_run().one(type_token)
    assert type_token in RULES.taggable_types
    assert RULES.tag_fields_by_type.get(type_token, RULES.tag_field) == field
    assert resource.inputs[field][TENANT_TAG] == "acme"


def test_zero_backups_are_said_as_zero(gcp_run: RunFactory) -> None:
    sql = gcp_run().one("gcp:sql/databaseInstance:DatabaseInstance")
    inputs = _set(sql.inputs, "settings.backupConfiguration.backupRetentionSettings.retainedBackups", 0)
    message = found(RULES.checks[Rule.DELETION_PROTECTION][sql.type], view(sql, inputs), CONTEXT)
    assert "keeps 0 backups" in message
