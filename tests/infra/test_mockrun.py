"""The offline mock run records each resource with its own inputs, parent and protect flag."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.mockrun import run_program


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
