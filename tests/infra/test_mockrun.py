"""The offline mock run records each resource with its own inputs, parent and protect flag."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from infra.mockrun import assert_ordered, run_program


class _Part(pulumi.ComponentResource):
    def __init__(self, component_type: str, name: str, retention: int) -> None:
        super().__init__(component_type, name)
        aws.cloudwatch.LogGroup(
            "logs",  # the same type and name in both parts: only the URN (parent type chain) tells them apart
            retention_in_days=retention,
            opts=pulumi.ResourceOptions(parent=self, protect=retention > 30),
        )


def test_same_type_and_name_under_different_parents_keep_their_own_inputs() -> None:
    run = run_program(
        lambda: [_Part("enclave:test:Short", "short", 7), _Part("enclave:test:Long", "long", 365)],
        project="enclave",
        stack="acme",
    )
    groups = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) == 2
    by_parent = {g.parent_urn.rsplit("::", 1)[-1]: g for g in groups if g.parent_urn}
    assert set(by_parent) == {"short", "long"}
    assert by_parent["short"].inputs["retentionInDays"] == 7
    assert by_parent["long"].inputs["retentionInDays"] == 365
    assert (by_parent["short"].protect, by_parent["long"].protect) == (False, True)
    assert by_parent["long"].outputs["retentionInDays"] == 365
    assert len({g.urn for g in groups}) == 2


def test_stack_config_does_not_leak_between_runs() -> None:
    seen: list[str | None] = []

    def program() -> None:
        seen.append(pulumi.Config("enclave").get("marker"))

    run_program(program, project="enclave", stack="a", config={"enclave:marker": "first"})
    run_program(program, project="enclave", stack="b")
    assert seen == ["first", None]


class _Holder(pulumi.ComponentResource):
    """A component with one child log group, to check that depending on a component waits for its children."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("enclave:test:Holder", name, None, opts)
        self.logs = aws.cloudwatch.LogGroup(f"{name}-logs", opts=pulumi.ResourceOptions(parent=self))


def _ordering_program() -> None:
    key = aws.kms.Key("key")
    policy = aws.kms.KeyPolicy("policy", key_id=key.id, policy="{}")  # property dependency on the key
    aws.cloudwatch.LogGroup("explicit", opts=pulumi.ResourceOptions(depends_on=[policy]))
    aws.cloudwatch.LogGroup("by-property", kms_key_id=key.arn)
    holder = _Holder("holder", pulumi.ResourceOptions(depends_on=[policy]))
    aws.cloudwatch.LogGroup("after-holder", opts=pulumi.ResourceOptions(depends_on=[holder]))
    aws.cloudwatch.LogGroup("unordered")


def test_dependencies_and_property_dependencies_are_recorded_as_the_engine_receives_them() -> None:
    run = run_program(_ordering_program, project="enclave", stack="acme")
    key, policy = run.one("aws:kms/key:Key"), run.one("aws:kms/keyPolicy:KeyPolicy")
    assert policy.property_dependencies["keyId"] == (key.urn,)
    assert key.urn in policy.dependencies
    by_property = run.named("aws:cloudwatch/logGroup:LogGroup", "by-property")
    assert by_property.property_dependencies == {"kmsKeyId": (key.urn,)}
    explicit = run.named("aws:cloudwatch/logGroup:LogGroup", "explicit")
    assert policy.urn in explicit.dependencies
    assert explicit.property_dependencies == {}


def test_assert_ordered_follows_dependencies_parents_and_components_transitively() -> None:
    run = run_program(_ordering_program, project="enclave", stack="acme")
    groups = {g.name: g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    key, policy = run.one("aws:kms/key:Key"), run.one("aws:kms/keyPolicy:KeyPolicy")
    assert_ordered(run, before=policy, after=groups["explicit"])
    assert_ordered(run, before=key, after=groups["explicit"])  # transitively, through the policy
    assert_ordered(run, before=key, after=groups["by-property"])
    assert_ordered(run, before=policy, after=groups["holder-logs"])  # through its parent's dependency
    assert_ordered(run, before=groups["holder-logs"], after=groups["after-holder"])  # a component's subtree


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("policy", "by-property"),  # depends on the key only, not on its policy
        ("key", "unordered"),
        ("after-holder", "holder-logs"),  # the reverse of a real edge
        ("explicit", "explicit"),  # nothing waits for itself
    ],
)
def test_assert_ordered_fails_when_nothing_orders_the_pair(before: str, after: str) -> None:
    run = run_program(_ordering_program, project="enclave", stack="acme")
    named = {r.name: r for r in run.resources}
    with pytest.raises(AssertionError, match="does not wait for"):
        assert_ordered(run, before=named[before], after=named[after])
