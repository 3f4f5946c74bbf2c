"""The policy engine: every rule has a passing and a failing case; dispatch by provider prefix; graph checks."""

from __future__ import annotations

import pytest
from fake_cloud import FAKE_RULES, FakeCloud
from policy_cases import ALLOW_LISTED, CASES, OPEN, TENANT, k8s_meta, view

from infra.policy import engine
from infra.policy.kubernetes import KUBERNETES_RULES
from infra.policy.model import PolicyContext, ResourceView, Rule
from infra.preview import preview_spec
from infra.spec import TenantSpec

BOOK = engine.RuleBook({"fake": FAKE_RULES})


def rules_broken(views: list[ResourceView], ctx: PolicyContext) -> set[Rule]:
    return {v.rule for v in engine.evaluate(views, ctx, BOOK)}


def test_every_rule_has_a_case() -> None:
    assert {case[0] for case in CASES.values()} == set(Rule)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_passes_and_fails(case: str) -> None:
    rule, ctx, good, bad = CASES[case]
    assert rule not in rules_broken([good], ctx)
    violations = [v for v in engine.evaluate([bad], ctx, BOOK) if v.rule is rule]
    assert violations, f"{case}: no {rule} violation"
    assert all(v.urn == bad.urn and v.resource_name == bad.name and v.message for v in violations)


def test_deletion_protection_follows_the_spec() -> None:
    unprotected = view("fake:index:Key", "acme-key", protect=False, tags={"enclave-tenant": TENANT})
    relaxed = PolicyContext(tenant=TENANT, deletion_protection=False, allowed_cidrs=())
    assert Rule.DELETION_PROTECTION not in rules_broken([unprotected], relaxed)


def test_default_deny_must_exist_where_pods_run() -> None:
    deployment = view("kubernetes:apps/v1:Deployment", "acme-gateway", metadata=k8s_meta("gateway"))
    deny = view(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "acme-default-deny",
        metadata=k8s_meta("default-deny"),
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    )
    ingress_only = view(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "acme-default-deny",
        metadata=k8s_meta("default-deny"),
        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
    )
    assert Rule.NO_OPEN_INGRESS in rules_broken([deployment], OPEN)
    assert Rule.NO_OPEN_INGRESS in rules_broken([deployment, ingress_only], OPEN)
    assert Rule.NO_OPEN_INGRESS not in rules_broken([deployment, deny], OPEN)


def test_unknown_providers_get_the_generic_rules_only() -> None:
    assert rules_broken([view("random:index:RandomPassword", "acme-pw")], OPEN) == set()
    assert rules_broken([view("random:index:RandomPassword", "pw")], OPEN) == {Rule.NO_CROSS_TENANT_SHARING}


def test_default_providers_are_not_held_to_tenant_names() -> None:
    assert rules_broken([view("pulumi:providers:aws", "default_7_0_0")], OPEN) == set()


def test_real_rule_modules_are_looked_up_by_provider_prefix() -> None:
    book = engine.RuleBook()
    assert book.for_type("kubernetes:core/v1:Service") is KUBERNETES_RULES
    assert book.for_type("random:index:RandomId") is None
    assert set(engine.RULE_MODULES) == {"aws", "gcp", "azure-native"}


def spec(**extra: object) -> TenantSpec:
    base = {"name": TENANT, "cloud": "aws", "region": "eu-west-1", "network_cidr": "10.42.0.0/16"}
    return TenantSpec.model_validate({**base, "hostname": "acme.example.com", **extra})


def test_the_whole_fake_stack_complies() -> None:
    report = preview_spec(spec(), FakeCloud(), BOOK)
    assert report.violations == ()


def test_allow_listed_fake_stack_complies() -> None:
    report = preview_spec(spec(connectivity={"allowed_cidrs": ["203.0.113.0/24"]}), FakeCloud(), BOOK)
    assert report.violations == ()
    assert engine.context_for(report.spec) == ALLOW_LISTED


@pytest.mark.parametrize(
    ("cloud", "rule"),
    [
        (FakeCloud(public_database=True), Rule.NO_PUBLIC_DATA),
        (FakeCloud(tags_override={}), Rule.TENANT_TAG),
        (FakeCloud(tags_override={"enclave-tenant": "globex"}), Rule.NO_CROSS_TENANT_SHARING),
    ],
)
def test_a_violating_stack_is_caught(cloud: FakeCloud, rule: Rule) -> None:
    report = preview_spec(spec(), cloud, BOOK)
    assert rule in {v.rule for v in report.violations}
