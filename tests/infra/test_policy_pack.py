"""The pulumi-policy pack's validators, called as the Pulumi engine would, report what the engine reports."""

from __future__ import annotations

from types import ModuleType

import pytest
from fake_cloud import FAKE_RULES, FakeCloud
from policy_cases import CASES
from policy_pack_harness import engine_messages, load_pack, pack_messages
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from infra.policy import engine
from infra.policy.model import PolicyContext, ResourceView, Rule
from infra.preview import preview_spec
from infra.spec import TenantSpec

BOOK = engine.RuleBook({"fake": FAKE_RULES})


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    return load_pack()


def pack_found(pack: ModuleType, views: list[ResourceView], ctx: PolicyContext) -> set[tuple[str, str, str]]:
    return pack_messages(pack, views, ctx, BOOK)


def engine_found(views: list[ResourceView], ctx: PolicyContext) -> set[tuple[str, str, str]]:
    return engine_messages(views, ctx, BOOK)


def test_one_mandatory_resource_and_one_stack_policy_per_rule(pack: ModuleType) -> None:
    policies = pack.policies(lambda: CASES["untagged"][1], BOOK)
    names = [p.name for p in policies]
    assert names[: len(Rule)] == [r.value for r in Rule]
    assert names[len(Rule) :] == [f"{r.value}{pack.GRAPH_SUFFIX}" for r in Rule]
    assert all(isinstance(p, StackValidationPolicy) for p in policies[len(Rule) :])
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in policies)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pack_reports_what_the_engine_reports(pack: ModuleType, case: str) -> None:
    _, ctx, good, bad = CASES[case]
    for views in ([good], [bad], [good, bad]):
        assert pack_found(pack, views, ctx) == engine_found(views, ctx)
    assert pack_found(pack, [bad], ctx)


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
    views = [engine.view_of(r) for r in report.resources]
    ctx = engine.context_for(spec)
    assert pack_found(pack, views, ctx) == engine_found(views, ctx) != set()


def test_pack_context_falls_back_to_the_stack_name(pack: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    pack.stack_context.cache_clear()
    monkeypatch.setattr(pulumi, "get_stack", lambda: "globex")
    monkeypatch.setattr(pulumi.Config, "get_object", lambda self, key: None)
    try:
        assert pack.stack_context() == PolicyContext("globex", True, ())
    finally:
        pack.stack_context.cache_clear()
