"""Evaluate the mandatory rules over resources: the mock graph (tests, offline preview) or, one resource at a
time, inside the pulumi-policy pack. Both paths call `check_rule`, so they cannot disagree.

A resource's cloud is its type token's provider prefix (`aws`, `gcp`, `azure-native`, `kubernetes`); the
cloud's `RULES` say what each rule means for its types. Two rules are generic and apply to every cloud: the
tenant tag (from `taggable_types` / `tag_field`) and no cross-tenant sharing (names and tags). Kubernetes
rules for the gateway workload are defined here, since the workload is the same on every cloud.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from infra.policy.model import (
    PRIVATE_LINK_BACKEND_ANNOTATION,
    CloudRules,
    PolicyContext,
    ResourceView,
    Rule,
    Violation,
    input_at,
)
from infra.spec import TENANT_TAG, TenantSpec

# Provider prefix -> module exposing `RULES: CloudRules`, imported the first time a resource needs it.
RULE_MODULES: Mapping[str, str] = {
    "aws": "infra.aws.policy",
    "gcp": "infra.gcp.policy",
    "azure-native": "infra.azure.policy",
}
KUBERNETES = "kubernetes"
TLS_PORT = 443
# Types whose logical names Pulumi chooses (default providers) or that are the stack itself.
UNNAMED_TYPE_PREFIXES = ("pulumi:pulumi:Stack", "pulumi:providers:")

K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def provider_of(type_token: str) -> str:
    return type_token.split(":", 1)[0]


def context_for(spec: TenantSpec) -> PolicyContext:
    return PolicyContext(
        tenant=spec.name,
        deletion_protection=spec.deletion_protection,
        allowed_cidrs=tuple(str(c) for c in spec.connectivity.allowed_cidrs),
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


# ---------------------------------------------------------------------------------------------- generic rules


def tenant_tag_problem(view: ResourceView, ctx: PolicyContext, rules: CloudRules | None) -> str | None:
    if rules is None or view.type not in rules.taggable_types:
        return None
    tag_field = rules.tag_fields_by_type.get(view.type, rules.tag_field)
    tags = input_at(view.inputs, tag_field)
    if not isinstance(tags, Mapping) or TENANT_TAG not in tags:
        return f"missing the {TENANT_TAG} tag in `{tag_field}`; add {TENANT_TAG}={ctx.tenant}"
    if tags[TENANT_TAG] != ctx.tenant:
        return f"{TENANT_TAG} is {tags[TENANT_TAG]!r}, not this stack's tenant {ctx.tenant!r}"
    return None


def cross_tenant_problem(view: ResourceView, ctx: PolicyContext, rules: CloudRules | None) -> str | None:
    if not view.type.startswith(UNNAMED_TYPE_PREFIXES) and not (
        view.name == ctx.tenant or view.name.startswith(f"{ctx.tenant}-")
    ):
        return f"resource name {view.name!r} does not start with the tenant name {ctx.tenant!r}"
    if rules is not None:
        tags = input_at(view.inputs, rules.tag_fields_by_type.get(view.type, rules.tag_field))
        if isinstance(tags, Mapping) and tags.get(TENANT_TAG, ctx.tenant) != ctx.tenant:
            return f"tagged for tenant {tags[TENANT_TAG]!r}: a resource of {ctx.tenant!r} names another tenant"
    return None


GENERIC_CHECKS = {Rule.TENANT_TAG: tenant_tag_problem, Rule.NO_CROSS_TENANT_SHARING: cross_tenant_problem}


def check_rule(rule: Rule, view: ResourceView, ctx: PolicyContext, book: RuleBook) -> list[str]:
    """Every problem `rule` finds with one resource (empty when it complies)."""
    rules = book.for_type(view.type)
    problems: list[str | None] = []
    if generic := GENERIC_CHECKS.get(rule):
        problems.append(generic(view, ctx, rules))
    if rules is not None and (check := rules.checks.get(rule, {}).get(view.type)):
        problems.append(check(view, ctx))
    return [p for p in problems if p]


def check_graph(views: Sequence[ResourceView], ctx: PolicyContext) -> list[Violation]:
    """Rules that need the whole graph: every namespace running pods has a default-deny NetworkPolicy
    for both ingress and egress."""
    guarded = {input_at(v.inputs, "metadata.namespace") for v in views if is_default_deny(v)}
    return [
        Violation(
            Rule.NO_OPEN_INGRESS,
            v.urn,
            v.type,
            v.name,
            f"namespace {input_at(v.inputs, 'metadata.namespace')!r} has no default-deny NetworkPolicy "
            "(podSelector {} with policyTypes Ingress and Egress and no rules)",
        )
        for v in views
        if v.type == K8S_DEPLOYMENT and input_at(v.inputs, "metadata.namespace") not in guarded
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
    return violations + check_graph(views, ctx)


# ------------------------------------------------------------------------------------------ kubernetes rules


def _networks(values: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """Parsed CIDRs, or None if any entry is not a CIDR (unknown during a real preview, or malformed)."""
    try:
        return [ipaddress.ip_network(str(v), strict=False) for v in values or []]
    except ValueError:
        return None


def _within_allow_list(cidrs: Iterable[str], ctx: PolicyContext) -> list[str]:
    """The entries of `cidrs` that are not inside the allow list."""
    allowed = [ipaddress.ip_network(c) for c in ctx.allowed_cidrs]
    outside = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if not any(network.version == a.version and network.subnet_of(a) for a in allowed):  # type: ignore[arg-type]
            outside.append(cidr)
    return outside


def service_open_ingress(view: ResourceView, ctx: PolicyContext) -> str | None:
    spec = view.inputs.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "NodePort":
        metadata = view.inputs.get("metadata") or {}
        pinned = all(port.get("nodePort") for port in spec.get("ports") or [{}])
        if (metadata.get("annotations") or {}).get(PRIVATE_LINK_BACKEND_ANNOTATION) == "true" and pinned:
            return None  # the private-link load balancer's target; the node firewall admits only it
        return "NodePort services open a port on every node; use a LoadBalancer on 443 or ClusterIP"
    if kind != "LoadBalancer":
        return None
    ranges = spec.get("loadBalancerSourceRanges") or []
    parsed = _networks(ranges)
    if parsed is None:
        return f"loadBalancerSourceRanges {ranges} are not all CIDRs"
    if ctx.allowed_cidrs:
        if not ranges:
            return f"the load balancer is open to everyone; set loadBalancerSourceRanges to {list(ctx.allowed_cidrs)}"
        if outside := _within_allow_list(ranges, ctx):
            return f"loadBalancerSourceRanges {outside} are outside the tenant's allow list {list(ctx.allowed_cidrs)}"
    return None


def service_tls_only(view: ResourceView, ctx: PolicyContext) -> str | None:
    spec = view.inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return None
    ports = [p.get("port") for p in spec.get("ports") or []]
    if not ports or any(p != TLS_PORT for p in ports):
        return f"the load balancer listens on {ports}; it must listen on {TLS_PORT} (TLS) only"
    return None


def network_policy_open_ingress(view: ResourceView, ctx: PolicyContext) -> str | None:
    """Ingress from anywhere is allowed only for the listener (explicit ports) and only without an allow
    list; with an allow list, every ingress source must lie inside it or the tenant's private ranges."""
    for rule in (view.inputs.get("spec") or {}).get("ingress") or []:
        sources = rule.get("from") or []
        cidrs = [s["ipBlock"]["cidr"] for s in sources if isinstance(s.get("ipBlock"), Mapping)]
        parsed = _networks(cidrs)
        if parsed is None:
            return f"ingress ipBlock CIDRs {cidrs} are not all CIDRs"
        open_to_all = not sources or any(n.prefixlen == 0 for n in parsed)
        if not open_to_all:
            continue
        if ctx.allowed_cidrs:
            return f"ingress is open to everyone although the tenant has the allow list {list(ctx.allowed_cidrs)}"
        if not rule.get("ports"):
            return "ingress from everyone on every port; restrict it to the listener port"
    return None


def is_default_deny(view: ResourceView) -> bool:
    if view.type != K8S_NETWORK_POLICY:
        return False
    spec = view.inputs.get("spec") or {}
    selects_all = not (spec.get("podSelector") or {})
    return (
        selects_all
        and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
        and not spec.get("ingress")
        and not spec.get("egress")
    )


KUBERNETES_RULES = CloudRules(
    checks={
        Rule.NO_OPEN_INGRESS: {K8S_SERVICE: service_open_ingress, K8S_NETWORK_POLICY: network_policy_open_ingress},
        Rule.TLS_IN_TRANSIT: {K8S_SERVICE: service_tls_only},
    },
    taggable_types=frozenset(
        {
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:ConfigMap",
            K8S_SERVICE,
            K8S_DEPLOYMENT,
            "kubernetes:policy/v1:PodDisruptionBudget",
            K8S_NETWORK_POLICY,
        }
    ),
    tag_field="metadata.labels",
)
