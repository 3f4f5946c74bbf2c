"""The policy contract: rule names, what a check sees, and what each cloud module supplies.

Generic logic (evaluation over a graph, the pulumi-policy pack, tags, names) lives in infra/policy/;
what a rule means for a cloud's resource types lives with that cloud, in `infra/<cloud>/policy.py`, which
exposes `RULES: CloudRules`. One interface, one implementation per backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Marks the one NodePort Service policy allows: the private-link load balancer's target, whose node port the
# cloud's node firewall opens to that load balancer only (infra/workload.py sets it).
PRIVATE_LINK_BACKEND_ANNOTATION = "enclave.dev/private-link-backend"


class Rule(StrEnum):
    NO_PUBLIC_DATA = "no-public-data-services"  # database, cache, bucket never reachable from the internet
    ENCRYPTION_AT_REST = "encryption-at-rest-with-tenant-key"
    TLS_IN_TRANSIT = "tls-in-transit"
    DELETION_PROTECTION = "deletion-protection"
    PRIVATE_CLUSTER_ENDPOINT = "private-cluster-endpoint"
    TENANT_TAG = "tenant-tag-on-taggable-resources"
    NO_OPEN_INGRESS = "no-open-ingress"  # 0.0.0.0/0 only on the allow-listed load-balancer listener
    NO_CROSS_TENANT_SHARING = "nothing-shared-with-another-tenant"


RULE_DESCRIPTIONS: dict[Rule, str] = {
    Rule.NO_PUBLIC_DATA: "No database, cache or bucket is reachable from the public internet.",
    Rule.ENCRYPTION_AT_REST: "Data at rest is encrypted with the tenant's own key (or the customer's key).",
    Rule.TLS_IN_TRANSIT: "Every data path requires TLS; plaintext ports are off.",
    Rule.DELETION_PROTECTION: "Stateful resources are protected from deletion while the spec says so.",
    Rule.PRIVATE_CLUSTER_ENDPOINT: "The Kubernetes API endpoint is private (or restricted to authorized networks).",
    Rule.TENANT_TAG: "Every taggable resource carries the enclave-tenant tag / label with its tenant's name.",
    Rule.NO_OPEN_INGRESS: "No ingress from 0.0.0.0/0 except the allow-listed load-balancer listener.",
    Rule.NO_CROSS_TENANT_SHARING: "Every resource belongs to this tenant: names, tags and grants name no other.",
}


@dataclass(frozen=True)
class PolicyContext:
    """What a check may know besides the resource: the tenant's spec, as far as policy needs it."""

    tenant: str
    deletion_protection: bool
    allowed_cidrs: tuple[str, ...]  # the ingress allow list; empty means the listener is open on 443


@dataclass(frozen=True)
class ResourceView:
    """A resource as a policy check sees it: type token, logical name, camelCase inputs, protect flag."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    protect: bool = False


# A check returns None when the resource complies, else a message saying what is wrong and how to fix it.
ResourceCheck = Callable[[ResourceView, PolicyContext], str | None]


@dataclass(frozen=True)
class CloudRules:
    checks: Mapping[Rule, Mapping[str, ResourceCheck]]  # rule -> resource type token -> check
    taggable_types: frozenset[str]  # types that must carry the tenant tag
    tag_field: str  # input holding tags: "tags" (AWS, Azure) or "labels" / "resourceLabels" (GCP)
    tag_fields_by_type: Mapping[str, str] = field(default_factory=dict)  # exceptions to tag_field


@dataclass(frozen=True)
class Violation:
    rule: Rule
    urn: str
    resource_type: str
    resource_name: str
    message: str


def input_at(inputs: Mapping[str, Any], path: str) -> Any:
    """A nested input: `inputs["metadata"]["labels"]` for the path "metadata.labels"; None when any step is
    missing or not an object. The one way checks read nested inputs."""
    value: Any = inputs
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
