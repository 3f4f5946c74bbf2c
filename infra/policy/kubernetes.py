"""What the rules mean for the Kubernetes objects of the gateway workload, the same on every cloud.

Pod security follows the Kubernetes Pod Security Standards, "restricted" profile
(https://kubernetes.io/docs/concepts/security/pod-security-standards/): no privileged containers, no
privilege escalation (`allowPrivilegeEscalation` must be set to false: Linux grants escalation unless
no_new_privs is set), no host network / PID / IPC namespaces, no hostPath volumes, no added capabilities
beyond NET_BIND_SERVICE.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from infra.policy import cidrs
from infra.policy.model import (
    PRIVATE_LINK_BACKEND_ANNOTATION,
    CloudRules,
    Graph,
    PolicyContext,
    ResourceView,
    Rule,
    Violation,
    input_at,
    violation,
)

TLS_PORT = 443
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: Mapping[str, str] = {
    DEPLOYMENT: "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:core/v1:ReplicationController": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:core/v1:Pod": "spec",
}
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# The private-link target's node port must be the port of the stack's own private-link target group (AWS):
# the one NodePort the design needs (docs/tenant-stack.md, "workload").
PRIVATE_LINK_TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
# The private-link target's externalIPs must be the stack's own internal address (GCP's internal load balancer).
PRIVATE_LINK_ADDRESS = "gcp:compute/address:Address"


def namespace_of(view: ResourceView) -> str:
    return str(input_at(view.inputs, "metadata.namespace") or "default")


def _is_private_link_backend(view: ResourceView) -> bool:
    annotations = input_at(view.inputs, "metadata.annotations") or {}
    return isinstance(annotations, Mapping) and annotations.get(PRIVATE_LINK_BACKEND_ANNOTATION) == "true"


# --------------------------------------------------------------------------------------------- ingress


def service_open_ingress(view: ResourceView, ctx: PolicyContext) -> str | None:
    """externalIPs let a Service capture traffic for any address (CVE-2020-8554,
    https://github.com/kubernetes/kubernetes/issues/97076); NodePort opens a port on every node. Both are
    refused except on the private-link target, whose addresses and port a graph check ties to the stack's
    own load balancer."""
    spec = view.inputs.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if spec.get("externalIPs") and not _is_private_link_backend(view):
        return "externalIPs let this Service take traffic for arbitrary addresses; remove them"
    if kind == "NodePort":
        pinned = all(port.get("nodePort") for port in spec.get("ports") or [{}])
        if _is_private_link_backend(view) and pinned:
            return None
        return "NodePort services open a port on every node; use a LoadBalancer on 443 or ClusterIP"
    if kind != "LoadBalancer" or not ctx.allowed_cidrs:
        return None
    ranges = spec.get("loadBalancerSourceRanges") or []
    if not ranges:
        return f"the load balancer is open to everyone; set loadBalancerSourceRanges to {list(ctx.allowed_cidrs)}"
    if beyond := cidrs.outside(ranges, ctx.trusted_cidrs):
        return f"loadBalancerSourceRanges admit {beyond}, beyond the tenant's allow list {list(ctx.allowed_cidrs)}"
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
    """Every ingress source must lie inside the allow list and the tenant's own networks; without an allow
    list, sources beyond them are admitted only on explicit (listener) ports. The union of the ipBlocks
    counts, so `0.0.0.0/1` + `128.0.0.0/1` is as open as `0.0.0.0/0`."""
    for rule in (view.inputs.get("spec") or {}).get("ingress") or []:
        sources = rule.get("from") or []
        blocks = [s["ipBlock"]["cidr"] for s in sources if isinstance(s.get("ipBlock"), Mapping)]
        beyond = cidrs.outside(blocks, ctx.trusted_cidrs) if sources else "every address (no `from`)"
        if not beyond:
            continue
        if ctx.allowed_cidrs:
            return f"ingress admits {beyond}, beyond the tenant's allow list {list(ctx.allowed_cidrs)}"
        if not rule.get("ports"):
            return f"ingress admits {beyond} on every port; restrict it to the listener port"
    return None


def is_default_deny(view: ResourceView) -> bool:
    if view.type != NETWORK_POLICY:
        return False
    spec = view.inputs.get("spec") or {}
    return (
        not (spec.get("podSelector") or {})
        and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def default_deny_everywhere(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """Every namespace the stack creates or runs pods in has a default-deny NetworkPolicy both ways (an
    omission is a violation: without it every pod accepts and sends anything)."""
    guarded = {namespace_of(v) for v in graph.views if is_default_deny(v)}
    for v in graph.of_type(NAMESPACE, *POD_SPEC_PATHS):
        namespace = str(input_at(v.inputs, "metadata.name")) if v.type == NAMESPACE else namespace_of(v)
        if namespace not in guarded:
            yield violation(
                Rule.NO_OPEN_INGRESS,
                v,
                f"namespace {namespace!r} has no default-deny NetworkPolicy "
                "(podSelector {} with policyTypes Ingress and Egress and no rules)",
            )


def private_link_backend_is_own(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """The private-link target's exception is narrow: its node ports are the stack's own private-link target
    group's port (AWS), and its externalIPs the stack's own internal address (GCP)."""
    ports = {p for g in graph.of_type(PRIVATE_LINK_TARGET_GROUP) if isinstance(p := g.state.get("port"), int | float)}
    addresses = {
        str(a.state.get("address"))
        for a in graph.of_type(PRIVATE_LINK_ADDRESS)
        if a.state.get("addressType") == "INTERNAL" and a.state.get("address")
    }
    for v in graph.of_type(SERVICE):
        if not _is_private_link_backend(v):
            continue
        spec = v.inputs.get("spec") or {}
        if spec.get("type") == "NodePort":
            stray = [p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort") not in ports]
            if stray:
                yield violation(
                    Rule.NO_OPEN_INGRESS, v, f"node ports {stray} are not the stack's private-link target group port"
                )
        stray_ips = [ip for ip in spec.get("externalIPs") or [] if str(ip) not in addresses]
        if stray_ips:
            yield violation(
                Rule.NO_OPEN_INGRESS,
                v,
                f"externalIPs {stray_ips} are not the stack's own internal load-balancer address",
            )


# --------------------------------------------------------------------------------------------- pods


def _containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from (c for c in pod.get(kind) or [] if isinstance(c, Mapping))


def pod_restricted(view: ResourceView, ctx: PolicyContext) -> str | None:
    pod = input_at(view.inputs, POD_SPEC_PATHS[view.type])
    if not isinstance(pod, Mapping):
        return "the workload has no pod spec to check"
    if shared := [k for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k) is True]:
        return f"the pod shares the node's namespaces ({', '.join(shared)}); remove them"
    if host_paths := [v.get("name") for v in pod.get("volumes") or [] if isinstance(v, Mapping) and "hostPath" in v]:
        return f"the pod mounts host paths (volumes {host_paths}); use emptyDir, a ConfigMap or a Secret"
    for container in _containers(pod):
        name, security = container.get("name"), container.get("securityContext") or {}
        if security.get("privileged") is True:
            return f"container {name!r} is privileged; set securityContext.privileged false"
        if security.get("allowPrivilegeEscalation") is not False:
            return f"container {name!r} may escalate privileges; set securityContext.allowPrivilegeEscalation false"
        added = set(input_at(security, "capabilities.add") or []) - ALLOWED_ADDED_CAPABILITIES
        if added:
            return f"container {name!r} adds capabilities {sorted(added)}; drop ALL and add none"
    return None


# --------------------------------------------------------------------------------------------- private link

# Azure's cloud provider creates a Private Link service for a LoadBalancer Service from these annotations;
# each takes a space-separated list of subscription IDs and "*" means every subscription
# (https://cloud-provider-azure.sigs.k8s.io/topics/pls-integration/).
AZURE_PLS_VISIBILITY = "service.beta.kubernetes.io/azure-pls-visibility"
AZURE_PLS_AUTO_APPROVAL = "service.beta.kubernetes.io/azure-pls-auto-approval"


def service_private_link_consumers(view: ResourceView, ctx: PolicyContext) -> str | None:
    annotations = input_at(view.inputs, "metadata.annotations") or {}
    if not isinstance(annotations, Mapping):
        return None
    if str(annotations.get(AZURE_PLS_AUTO_APPROVAL, "")).split():
        return (
            f"the Private Link service auto-approves connections ({AZURE_PLS_AUTO_APPROVAL}); remove it so every "
            "private connection is approved by hand"
        )
    for key, what in ((AZURE_PLS_VISIBILITY, "visible to"),):
        if key not in annotations:
            continue
        listed = str(annotations[key]).split()
        if "*" in listed:
            return f"the Private Link service is {what} every subscription ({key}: *); list the spec's consumers"
        if beyond := sorted(set(listed) - set(ctx.private_link_consumers)):
            return f"the Private Link service is {what} {beyond}, not among the spec's private_link_consumers"
    return None


KUBERNETES_RULES = CloudRules(
    checks={
        Rule.NO_OPEN_INGRESS: {SERVICE: service_open_ingress, NETWORK_POLICY: network_policy_open_ingress},
        Rule.TLS_IN_TRANSIT: {SERVICE: service_tls_only},
        Rule.POD_SECURITY: dict.fromkeys(POD_SPEC_PATHS, pod_restricted),
        Rule.NO_CROSS_TENANT_SHARING: {SERVICE: service_private_link_consumers},
    },
    taggable_types=frozenset(
        {
            NAMESPACE,
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:ConfigMap",
            SERVICE,
            "kubernetes:policy/v1:PodDisruptionBudget",
            NETWORK_POLICY,
            *POD_SPEC_PATHS,
        }
    ),
    tag_field="metadata.labels",
    graph_checks=(default_deny_everywhere, private_link_backend_is_own),
)
