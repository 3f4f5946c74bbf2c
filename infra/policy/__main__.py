"""The pulumi-policy pack: `pulumi preview/up -s <tenant> --policy-pack infra/policy`.

One mandatory ResourceValidationPolicy per Rule, plus a stack policy for the graph-wide check, all calling
the same functions as the offline preview (infra/policy/engine.py). The tenant comes from the stack's
`enclave:tenant` config, or from the stack name when that config is absent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the pack runs by path, from its own folder

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy import engine
from infra.policy.model import RULE_DESCRIPTIONS, PolicyContext, ResourceView, Rule
from infra.spec import TenantSpec

PACK_NAME = "enclave-tenant"
GRAPH_POLICY = f"{Rule.NO_OPEN_INGRESS.value}-default-deny"

ContextSource = Callable[[], PolicyContext]


@cache
def stack_context() -> PolicyContext:
    """The running stack's policy context; read once, when the engine first asks (config is set by then)."""
    raw = pulumi.Config("enclave").get_object("tenant")
    if raw is not None:
        return engine.context_for(TenantSpec.model_validate(raw))
    return PolicyContext(tenant=pulumi.get_stack(), deletion_protection=True, allowed_cidrs=())


def resource_view(args: ResourceValidationArgs) -> ResourceView:
    return ResourceView(
        type=args.resource_type, name=args.name, urn=args.urn, inputs=args.props, protect=bool(args.opts.protect)
    )


def rule_policy(rule: Rule, context: ContextSource, book: engine.RuleBook) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in engine.check_rule(rule, resource_view(args), context(), book):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.value,
        description=RULE_DESCRIPTIONS[rule],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def graph_policy(context: ContextSource) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        views = [
            ResourceView(type=r.resource_type, name=r.name, urn=r.urn, inputs=r.props, protect=bool(r.opts.protect))
            for r in args.resources
        ]
        for violation in engine.check_graph(views, context()):
            report_violation(violation.message, violation.urn)

    return StackValidationPolicy(
        name=GRAPH_POLICY,
        description="Every namespace running pods has a default-deny NetworkPolicy for ingress and egress.",
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def policies(context: ContextSource = stack_context, book: engine.RuleBook | None = None) -> list[Policy]:
    book = book or engine.RuleBook()
    return [*(rule_policy(rule, context, book) for rule in Rule), graph_policy(context)]


if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
