"""Calls the pulumi-policy pack's validators as the Pulumi engine does (props behind pulumi-policy's
unknown-checking proxy, stack props as outputs, property dependencies as resources) and collects what they
report as (rule, urn, message), the shape the engine's violations are compared in."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from infra.policy import engine
from infra.policy.model import PolicyContext, ResourceView

Found = set[tuple[str, str, str]]


def load_pack() -> ModuleType:
    return importlib.import_module("infra.policy.__main__")


def options(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def reporter(found: Found, policy: str, resource_urn: str | None) -> Callable[[str, str | None], None]:
    """A report_violation callback: resource policies report no urn (the engine fills it in)."""

    def report(message: str, urn: str | None) -> None:
        found.add((policy, str(resource_urn or urn), message))

    return report


def _proxied(props: Any) -> Any:
    return unknown_checking_proxy(dict(props))


def policy_resources(views: list[ResourceView]) -> list[PolicyResource]:
    """The stack as a StackValidationPolicy receives it: outputs as props, property dependencies as resources."""
    resources = {
        v.urn: PolicyResource(v.type, _proxied(v.state), v.urn, v.name, options(v.protect), None, None, [], {})
        for v in views
    }
    for v in views:
        resources[v.urn].property_dependencies = {
            key: [resources[u] for u in urns if u in resources] for key, urns in v.property_dependencies.items()
        }
    return list(resources.values())


def pack_messages(pack: ModuleType, views: list[ResourceView], ctx: PolicyContext, book: engine.RuleBook) -> Found:
    """What the pack reports: its validators called as the Pulumi engine calls them."""
    found: Found = set()
    for policy in pack.policies(lambda: ctx, book):
        if isinstance(policy, ResourceValidationPolicy):
            for v in views:
                args = ResourceValidationArgs(v.type, _proxied(v.inputs), v.urn, v.name, options(v.protect), None)
                try:
                    policy.validate(args, reporter(found, policy.name, v.urn))
                except UnknownValueError:  # the analyzer reports "can't run during preview" (advisory)
                    found.add(("deferred", v.urn, policy.name))
        else:
            assert isinstance(policy, StackValidationPolicy)
            rule = policy.name.removesuffix(pack.GRAPH_SUFFIX)
            policy.validate(StackValidationArgs(policy_resources(views)), reporter(found, rule, None))
    return found


def engine_messages(views: list[ResourceView], ctx: PolicyContext, book: engine.RuleBook) -> Found:
    return {(v.rule.value, v.urn, v.message) for v in engine.evaluate(views, ctx, book)}
