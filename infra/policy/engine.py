"""Evaluate the mandatory rules over resources: the mock graph (tests, offline preview) or, inside the
pulumi-policy pack, one resource at a time (`check_rule`) and the whole stack (`check_graph`). The preview
and the pack call the same two functions, so they cannot disagree.

A resource's cloud is its type token's provider prefix (`aws`, `gcp`, `azure-native`, `kubernetes`); the
cloud's `RULES` say what each rule means for its types and which graph checks it adds. Two rules are generic
and apply to every cloud: the tenant tag (exact equality, from `taggable_types` / `tag_field`) and no
cross-tenant tag or name. Kubernetes rules live in infra/policy/kubernetes.py, the same on every cloud.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from infra.clouds import rule_modules
from infra.policy.kubernetes import KUBERNETES_RULES, service_open_ingress  # noqa: F401 - imported from here too
from infra.policy.model import CloudRules, Graph, PolicyContext, ResourceView, Rule, Violation, input_at
from infra.spec import TENANT_TAG, TenantSpec

# Provider prefix -> module exposing `RULES: CloudRules` (from the cloud registry), imported the first time a
# resource needs it.
RULE_MODULES: Mapping[str, str] = rule_modules()
KUBERNETES = "kubernetes"
# Types whose logical names Pulumi chooses (default providers) or that are the stack itself.
UNNAMED_TYPE_PREFIXES = ("pulumi:pulumi:Stack", "pulumi:providers:")


def provider_of(type_token: str) -> str:
    return type_token.split(":", 1)[0]


def context_for(spec: TenantSpec) -> PolicyContext:
    connectivity = spec.connectivity
    own = [str(spec.network_cidr)] + ([str(connectivity.peering.peer_cidr)] if connectivity.peering else [])
    return PolicyContext(
        tenant=spec.name,
        deletion_protection=spec.deletion_protection,
        allowed_cidrs=tuple(str(c) for c in connectivity.allowed_cidrs),
        own_cidrs=tuple(own),
        customer_managed_key=spec.customer_managed_key,
        external_bucket=spec.storage.bucket,
        external_account=spec.storage.customer_account,
        private_link_consumers=tuple(connectivity.private_link_consumers),
        gcp_project=spec.gcp_project,
        operator_cidrs=tuple(str(c) for c in spec.operator_cidrs),
        account=spec.account,
        operator_principals=tuple(spec.azure_operator_group_ids),
    )


class RecordedResource(Protocol):
    """What a mock run records of a resource (infra.mockrun.MockedResource)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...
    @property
    def outputs(self) -> dict[str, Any]: ...
    @property
    def protect(self) -> bool: ...
    @property
    def property_dependencies(self) -> Mapping[str, tuple[str, ...]]: ...


def view_of(resource: RecordedResource) -> ResourceView:
    """A mock-run resource as the checks see it: inputs, outputs and the URNs each input depends on."""
    return ResourceView(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        inputs=resource.inputs,
        protect=resource.protect,
        outputs=resource.outputs,
        property_dependencies={key: tuple(urns) for key, urns in resource.property_dependencies.items()},
    )


class RuleBook:
    """Which CloudRules apply to a type token. `rules` adds or replaces providers (tests use fakes)."""

    def __init__(self, rules: Mapping[str, CloudRules] | None = None) -> None:
        self._rules: dict[str, CloudRules] = {KUBERNETES: KUBERNETES_RULES, **(rules or {})}

    def for_type(self, type_token: str) -> CloudRules | None:
        provider = provider_of(type_token)
        if provider not in self._rules and provider in RULE_MODULES:
            module = importlib.import_module(RULE_MODULES[provider])
            self._rules[provider] = module.RULES
        return self._rules.get(provider)

    def present(self, views: Iterable[ResourceView]) -> list[CloudRules]:
        """The rules of every provider with a resource among `views`, each once."""
        found: dict[str, CloudRules] = {}
        for view in views:
            provider = provider_of(view.type)
            if provider not in found and (rules := self.for_type(view.type)) is not None:
                found[provider] = rules
        return list(found.values())


# ---------------------------------------------------------------------------------------------- generic rules


def tenant_tag_problems(view: ResourceView, ctx: PolicyContext, rules: CloudRules | None) -> Iterator[str]:
    """Ownership is the exact tag value, never a name prefix: tenant `acme` does not own `acme-corp`'s."""
    if rules is None or view.type not in rules.taggable_types:
        return
    tag_field = rules.tag_fields_by_type.get(view.type, rules.tag_field)
    tags = input_at(view.inputs, tag_field)
    if not isinstance(tags, Mapping) or TENANT_TAG not in tags:
        yield f"missing the {TENANT_TAG} tag in `{tag_field}`; add {TENANT_TAG}={ctx.tenant}"
    elif tags[TENANT_TAG] != ctx.tenant:
        yield f"{TENANT_TAG} is {tags[TENANT_TAG]!r}, not this stack's tenant {ctx.tenant!r}"


def cross_tenant_problems(view: ResourceView, ctx: PolicyContext, rules: CloudRules | None) -> Iterator[str]:
    """Naming convention (`<tenant>-...`) plus: no tag names another tenant. What a resource references is
    checked by reference in each cloud's graph checks, since a prefix cannot tell `acme` from `acme-corp`."""
    if not view.type.startswith(UNNAMED_TYPE_PREFIXES) and not (
        view.name == ctx.tenant or view.name.startswith(f"{ctx.tenant}-")
    ):
        yield f"resource name {view.name!r} does not start with the tenant name {ctx.tenant!r}"
    if rules is not None:
        tags = input_at(view.inputs, rules.tag_fields_by_type.get(view.type, rules.tag_field))
        if isinstance(tags, Mapping) and tags.get(TENANT_TAG, ctx.tenant) != ctx.tenant:
            yield f"tagged for tenant {tags[TENANT_TAG]!r}: a resource of {ctx.tenant!r} names another tenant"


GENERIC_CHECKS = {Rule.TENANT_TAG: tenant_tag_problems, Rule.NO_CROSS_TENANT_SHARING: cross_tenant_problems}


def check_rule(rule: Rule, view: ResourceView, ctx: PolicyContext, book: RuleBook) -> list[str]:
    """Every problem `rule` finds with one resource (empty when it complies), each once."""
    rules = book.for_type(view.type)
    problems: list[str] = []
    if generic := GENERIC_CHECKS.get(rule):
        problems.extend(generic(view, ctx, rules))
    if rules is not None and (check := rules.checks.get(rule, {}).get(view.type)):
        problems.extend(check(view, ctx))
    return list(dict.fromkeys(problems))


def check_graph(views: Sequence[ResourceView], ctx: PolicyContext, book: RuleBook | None = None) -> list[Violation]:
    """The graph checks of every provider present: companions that must exist, references that must be the
    tenant's own resources."""
    graph = Graph(views)
    return [
        v for rules in (book or RuleBook()).present(views) for check in rules.graph_checks for v in check(graph, ctx)
    ]


def evaluate(views: Iterable[ResourceView], ctx: PolicyContext, book: RuleBook | None = None) -> list[Violation]:
    """All violations of all mandatory rules, per resource then over the graph."""
    book = book or RuleBook()
    views = list(views)
    violations = [
        Violation(rule, view.urn, view.type, view.name, message)
        for view in views
        for rule in Rule
        for message in check_rule(rule, view, ctx, book)
    ]
    return violations + check_graph(views, ctx, book)
