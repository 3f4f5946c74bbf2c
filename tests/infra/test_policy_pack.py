"""The pulumi-policy pack's validators, called as the Pulumi engine would, report what the engine reports."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import pytest
from fake_cloud import FAKE_RULES, FakeCloud
from policy_cases import CASES
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy import engine
from infra.policy.model import PolicyContext, ResourceView, Rule
from infra.preview import preview_spec
from infra.spec import TenantSpec

BOOK = engine.RuleBook({"fake": FAKE_RULES})


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    return importlib.import_module("infra.policy.__main__")


def options(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def reporter(
    found: set[tuple[str, str, str]], policy: str, resource_urn: str | None
) -> Callable[[str, str | None], None]:
    """A report_violation callback: resource policies report no urn (the engine fills it in)."""

    def report(message: str, urn: str | None) -> None:
        found.add((policy, str(resource_urn or urn), message))

    return report


def pack_messages(pack: ModuleType, views: list[ResourceView], ctx: PolicyContext) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    policies = pack.policies(lambda: ctx, BOOK)
    for policy in policies:
        if isinstance(policy, ResourceValidationPolicy):
            for v in views:
                args = ResourceValidationArgs(v.type, v.inputs, v.urn, v.name, options(v.protect), None)
                policy.validate(args, reporter(found, policy.name, v.urn))
        else:
            assert isinstance(policy, StackValidationPolicy)
            resources = [
                PolicyResource(v.type, v.inputs, v.urn, v.name, options(v.protect), None, None, [], {}) for v in views
            ]
            policy.validate(StackValidationArgs(resources), reporter(found, Rule.NO_OPEN_INGRESS.value, None))
    return found


def engine_messages(views: list[ResourceView], ctx: PolicyContext) -> set[tuple[str, str, str]]:
    return {(v.rule.value, v.urn, v.message) for v in engine.evaluate(views, ctx, BOOK)}


def test_one_mandatory_policy_per_rule_plus_the_graph_check(pack: ModuleType) -> None:
    policies = pack.policies(lambda: CASES["untagged"][1], BOOK)
    names = [p.name for p in policies]
    assert names[: len(Rule)] == [r.value for r in Rule]
    assert names[len(Rule) :] == [pack.GRAPH_POLICY]
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in policies)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pack_reports_what_the_engine_reports(pack: ModuleType, case: str) -> None:
    _, ctx, good, bad = CASES[case]
    for views in ([good], [bad], [good, bad]):
        assert pack_messages(pack, views, ctx) == engine_messages(views, ctx)
    assert pack_messages(pack, [bad], ctx)


def test_pack_agrees_on_a_whole_stack(pack: ModuleType) -> None:
    spec = TenantSpec.model_validate(
        {
            "name": "acme",
            "cloud": "aws",
            "region": "eu-west-1",
            "network_cidr": "10.42.0.0/16",
            "hostname": "a.example.com",
        }
    )
    report = preview_spec(spec, FakeCloud(public_database=True), BOOK)
    views = [ResourceView(r.type, r.name, r.urn, r.inputs, r.protect) for r in report.resources]
    ctx = engine.context_for(spec)
    assert pack_messages(pack, views, ctx) == engine_messages(views, ctx) != set()


def test_pack_context_falls_back_to_the_stack_name(pack: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    pack.stack_context.cache_clear()
    monkeypatch.setattr(pulumi, "get_stack", lambda: "globex")
    monkeypatch.setattr(pulumi.Config, "get_object", lambda self, key: None)
    try:
        assert pack.stack_context() == PolicyContext("globex", True, ())
    finally:
        pack.stack_context.cache_clear()
