"""The policy contract: rule names, what a check sees, and what each cloud module supplies.

Generic logic (evaluation over a graph, the pulumi-policy pack, tags, names, address coverage, references)
lives in infra/policy/; what a rule means for a cloud's resource types lives with that cloud, in
`infra/<cloud>/policy.py`, which exposes `RULES: CloudRules`. One interface, one implementation per backend.

Two kinds of check: a `ResourceCheck` sees one resource's inputs (the pack runs it before the resource is
created); a `GraphCheck` sees every resource of the stack with its outputs and dependencies, for properties
that only a whole stack can show: a companion resource that must exist (encryption configuration, TLS-only
bucket policy, default-deny NetworkPolicy), a reference that must be the tenant's own resource (its key, its
bucket, its resource group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Marks the one NodePort / externalIPs Service policy allows: the private-link load balancer's target
# (infra/workload.py sets it); graph checks then require its ports / addresses to be the stack's own.
PRIVATE_LINK_BACKEND_ANNOTATION = "enclave.dev/private-link-backend"

# Stands for a value Pulumi cannot know during a preview (pulumi-policy's unknown sentinels are replaced by
# it before any check runs), so checks can treat "unknown" explicitly instead of being skipped.
UNKNOWN = "<unknown during preview>"


class Rule(StrEnum):
    NO_PUBLIC_DATA = "no-public-data-services"  # database, cache, bucket never reachable from the internet
    ENCRYPTION_AT_REST = "encryption-at-rest-with-tenant-key"
    TLS_IN_TRANSIT = "tls-in-transit"
    DELETION_PROTECTION = "deletion-protection"
    PRIVATE_CLUSTER_ENDPOINT = "private-cluster-endpoint"
    TENANT_TAG = "tenant-tag-on-taggable-resources"
    NO_OPEN_INGRESS = "no-open-ingress"  # sources covered by the allow list and the tenant's own network
    NO_CROSS_TENANT_SHARING = "nothing-shared-with-another-tenant"
    LEAST_PRIVILEGE = "least-privilege-iam"
    POD_SECURITY = "restricted-pods"
    AUDIT_TRAIL = "tamper-evident-audit-trail"


RULE_DESCRIPTIONS: dict[Rule, str] = {
    Rule.NO_PUBLIC_DATA: "No database, cache or bucket is reachable from the public internet.",
    Rule.ENCRYPTION_AT_REST: "Data at rest is encrypted with the tenant's own key (or the customer's key).",
    Rule.TLS_IN_TRANSIT: "Every data path requires TLS; plaintext ports are off.",
    Rule.DELETION_PROTECTION: "Stateful resources are protected from deletion and backed up while the spec says so.",
    Rule.PRIVATE_CLUSTER_ENDPOINT: "The Kubernetes API endpoint is private (or restricted to trusted networks).",
    Rule.TENANT_TAG: "Every taggable resource carries the enclave-tenant tag / label with its tenant's name.",
    Rule.NO_OPEN_INGRESS: "Ingress sources lie inside the allow list and the tenant's own networks; the internet "
    "reaches only the TLS listener, and only when there is no allow list.",
    Rule.NO_CROSS_TENANT_SHARING: "Every resource belongs to this tenant: tags, references and grants name no other.",
    Rule.LEAST_PRIVILEGE: "No wildcard or administrator grants: IAM names actions and resources.",
    Rule.POD_SECURITY: "Pods run restricted: no privileged containers, escalation, host namespaces or host paths.",
    Rule.AUDIT_TRAIL: "An audit trail exists, covers data access, and its store is tamper-evident.",
}


@dataclass(frozen=True)
class PolicyContext:
    """What a check may know besides the resource: the tenant's spec, as far as policy needs it."""

    tenant: str
    deletion_protection: bool
    allowed_cidrs: tuple[str, ...]  # the ingress allow list; empty means the listener is open on 443
    own_cidrs: tuple[str, ...] = ()  # the tenant's network and its peer's: trusted sources
    customer_managed_key: str | None = None  # the spec's key, the one key besides the stack's own
    external_bucket: str | None = None  # BYOB: the customer's bucket the platform may be granted
    external_account: str | None = None  # BYOB: the customer's account / project / subscription
    private_link_consumers: tuple[str, ...] = ()  # accounts / projects / subscriptions the spec names
    gcp_project: str | None = None
    operator_cidrs: tuple[str, ...] = ()  # where operators reach the cluster API from (443 to it only)
    account: str | None = None  # the AWS account / GCP project / Azure subscription the stack deploys into
    operator_principals: tuple[str, ...] = ()  # Entra groups the spec makes the cluster's administrators

    @property
    def trusted_cidrs(self) -> tuple[str, ...]:
        return self.allowed_cidrs + self.own_cidrs

    @property
    def cluster_api_cidrs(self) -> tuple[str, ...]:
        """Who may reach the Kubernetes API: the trusted ranges and the spec's operator ranges."""
        return self.trusted_cidrs + self.operator_cidrs


@dataclass(frozen=True)
class ResourceView:
    """A resource as a policy check sees it: type token, logical name, camelCase inputs, protect flag and,
    for graph checks, its outputs (None: only inputs are known) and the URNs each input depends on."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    protect: bool = False
    outputs: Mapping[str, Any] | None = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def state(self) -> Mapping[str, Any]:
        """Outputs when known (they echo the inputs), else the inputs."""
        return self.outputs if self.outputs is not None else self.inputs


# A check yields one message per problem it finds with the resource (nothing when it complies), each saying
# what is wrong and how to fix it: every problem is reported, not only the first.
ResourceCheck = Callable[[ResourceView, PolicyContext], Iterable[str]]


@dataclass(frozen=True)
class Violation:
    rule: Rule
    urn: str
    resource_type: str
    resource_name: str
    message: str


def violation(rule: Rule, view: ResourceView, message: str) -> Violation:
    return Violation(rule, view.urn, view.type, view.name, message)


class Graph:
    """Every resource of one stack, for checks that need more than one resource."""

    def __init__(self, views: Iterable[ResourceView]) -> None:
        self.views: tuple[ResourceView, ...] = tuple(views)
        self._by_urn = {v.urn: v for v in self.views}

    def of_type(self, *types: str) -> list[ResourceView]:
        return [v for v in self.views if v.type in types]

    @staticmethod
    def identifiers_of(view: ResourceView) -> set[str]:
        """Every top-level string `view` is known by (id, ARN, name, key URI, email, ...)."""
        return {
            value
            for value in {**view.inputs, **view.state}.values()
            if isinstance(value, str) and value and value != UNKNOWN
        }

    def identifiers(self, *types: str) -> set[str]:
        """Every identifier of every resource of `types`."""
        return {value for v in self.of_type(*types) for value in self.identifiers_of(v)}

    def depends_on(self, view: ResourceView, input_name: str, *types: str) -> bool:
        """Whether input `input_name` of `view` was computed from a resource of `types` (a reference)."""
        urns = view.property_dependencies.get(input_name, ())
        return any(u in self._by_urn and self._by_urn[u].type in types for u in urns)

    def refers_to(self, view: ResourceView, input_name: str, value: Any, *types: str) -> bool:
        """Whether `value` (read from input `input_name`) names a resource of `types` in this stack: by value,
        or through a property dependency when the value is unknown during a preview."""
        if value == UNKNOWN or value is None:
            return self.depends_on(view, input_name, *types)
        return isinstance(value, str) and value in self.identifiers(*types)


GraphCheck = Callable[[Graph, PolicyContext], Iterable[Violation]]


@dataclass(frozen=True)
class CloudRules:
    checks: Mapping[Rule, Mapping[str, ResourceCheck]]  # rule -> resource type token -> check
    taggable_types: frozenset[str]  # types that must carry the tenant tag
    tag_field: str  # input holding tags: "tags" (AWS, Azure) or "labels" / "resourceLabels" (GCP)
    tag_fields_by_type: Mapping[str, str] = field(default_factory=dict)  # exceptions to tag_field
    graph_checks: Sequence[GraphCheck] = ()  # run once per stack that has a resource of this cloud


def unknown_path(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where the first UNKNOWN sits in `value` (a path of keys / indexes), or None when all is known."""
    if value == UNKNOWN:
        return path
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if (found := unknown_path(item, (*path, str(key)))) is not None:
            return found
    return None


def input_at(inputs: Mapping[str, Any], path: str) -> Any:
    """A nested input: `inputs["metadata"]["labels"]` for the path "metadata.labels"; None when any step is
    missing or not an object. The one way checks read nested inputs."""
    value: Any = inputs
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def inputs_at(inputs: Mapping[str, Any], path: str) -> Iterator[Any]:
    """Every value at `path`, where a `*` step walks each element of a list: "rules.*.kmsKeyId"."""
    values: list[Any] = [inputs]
    for key in path.split("."):
        if key == "*":
            values = [item for v in values if isinstance(v, list) for item in v]
        else:
            values = [v.get(key) for v in values if isinstance(v, Mapping)]
    yield from (v for v in values if v is not None)
