"""The pulumi-policy pack: `pulumi preview/up -s <tenant> --policy-pack infra/policy`.

One mandatory ResourceValidationPolicy per Rule (the per-resource checks, run on each resource's inputs
before it is created) and one mandatory StackValidationPolicy per Rule (the graph checks, run over every
resource's outputs and property dependencies), all calling the same functions as the offline preview
(infra/policy/engine.py). The tenant comes from the stack's `enclave:tenant` config, or from the stack name
when that config is absent.

Values Pulumi cannot know during a preview are replaced by `UNKNOWN` before a check reads them. A graph check
decides about them (a reference is then judged by its property dependencies) instead of the whole stack
policy being skipped, as pulumi-policy does when a check touches an unknown value; a resource check that finds
a problem in a resource with unknown inputs defers, as pulumi-policy does, to the run on known inputs that
precedes the resource's creation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the pack runs by path, from its own folder

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from infra.policy import engine
from infra.policy.model import RULE_DESCRIPTIONS, UNKNOWN, PolicyContext, ResourceView, Rule, unknown_path
from infra.spec import TenantSpec

PACK_NAME = "enclave-tenant"
GRAPH_SUFFIX = "-whole-stack"

ContextSource = Callable[[], PolicyContext]


@cache
def stack_context() -> PolicyContext:
    """The running stack's policy context; read once, when the engine first asks (config is set by then)."""
    raw = pulumi.Config("enclave").get_object("tenant")
    if raw is not None:
        return engine.context_for(TenantSpec.model_validate(raw))
    return PolicyContext(tenant=pulumi.get_stack(), deletion_protection=True, allowed_cidrs=())


def plain(value: Any) -> Any:
    """`value` as plain dicts and lists, with every value pulumi-policy marks unknown replaced by UNKNOWN."""
    if isinstance(value, Mapping):
        return {key: _plain_item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain_item(value, i) for i in range(len(value))]
    return value


def _plain_item(container: Any, key: Any) -> Any:
    try:
        return plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def resource_view(args: ResourceValidationArgs) -> ResourceView:
    return ResourceView(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        inputs=plain(args.props),
        protect=bool(args.opts.protect),
    )


def stack_view(resource: PolicyResource) -> ResourceView:
    """A resource of the stack: in a stack policy `props` are its outputs (which echo its inputs)."""
    props = plain(resource.props)
    return ResourceView(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        inputs=props,
        protect=bool(resource.opts.protect),
        outputs=props,
        property_dependencies={k: tuple(d.urn for d in deps) for k, deps in resource.property_dependencies.items()},
    )


def rule_policy(rule: Rule, context: ContextSource, book: engine.RuleBook) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        view = resource_view(args)
        messages = engine.check_rule(rule, view, context(), book)
        if messages and (path := unknown_path(view.inputs)) is not None:
            # Not decidable yet: pulumi-policy reports the policy as not runnable during the preview, and the
            # engine runs it again on the known inputs before it creates the resource (`pulumi up`).
            raise UnknownValueError(UNKNOWN_STRING_VALUE, list(path))
        for message in messages:
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.value,
        description=RULE_DESCRIPTIONS[rule],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def graph_policy(rule: Rule, context: ContextSource, book: engine.RuleBook) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        views = [stack_view(r) for r in args.resources]
        for violation in engine.check_graph(views, context(), book):
            if violation.rule is rule:
                report_violation(violation.message, violation.urn)

    return StackValidationPolicy(
        name=f"{rule.value}{GRAPH_SUFFIX}",
        description=f"{RULE_DESCRIPTIONS[rule]} (checks over the whole stack)",
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def policies(context: ContextSource = stack_context, book: engine.RuleBook | None = None) -> list[Policy]:
    book = book or engine.RuleBook()
    return [
        *(rule_policy(rule, context, book) for rule in Rule),
        *(graph_policy(rule, context, book) for rule in Rule),
    ]


if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
