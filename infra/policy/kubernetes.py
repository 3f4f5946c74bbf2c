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


def service_open_ingress(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """externalIPs let a Service capture traffic for any address (CVE-2020-8554,
    https://github.com/kubernetes/kubernetes/issues/97076); NodePort opens a port on every node. Both are
    refused except on the private-link target, whose addresses and port a graph check ties to the stack's
    own load balancer."""
    spec = view.inputs.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if spec.get("externalIPs") and not _is_private_link_backend(view):
        yield "externalIPs let this Service take traffic for arbitrary addresses; remove them"
    if kind == "NodePort":
        pinned = all(port.get("nodePort") for port in spec.get("ports") or [{}])
        if not (_is_private_link_backend(view) and pinned):
            yield "NodePort services open a port on every node; use a LoadBalancer on 443 or ClusterIP"
    if kind != "LoadBalancer" or not ctx.allowed_cidrs:
        return
    ranges = spec.get("loadBalancerSourceRanges") or []
    if not ranges:
        yield f"the load balancer is open to everyone; set loadBalancerSourceRanges to {list(ctx.allowed_cidrs)}"
    elif beyond := cidrs.outside(ranges, ctx.trusted_cidrs):
        yield f"loadBalancerSourceRanges admit {beyond}, beyond the tenant's allow list {list(ctx.allowed_cidrs)}"


def service_tls_only(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    spec = view.inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return
    ports = [p.get("port") for p in spec.get("ports") or []]
    if not ports or any(p != TLS_PORT for p in ports):
        yield f"the load balancer listens on {ports}; it must listen on {TLS_PORT} (TLS) only"


def network_policy_open_ingress(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """Every ingress source must lie inside the allow list and the tenant's own networks; without an allow
    list, sources beyond them are admitted only on explicit (listener) ports. The union of the ipBlocks
    counts, so `0.0.0.0/1` + `128.0.0.0/1` is as open as `0.0.0.0/0`."""
    for index, rule in enumerate((view.inputs.get("spec") or {}).get("ingress") or []):
        sources = rule.get("from") or []
        blocks = [s["ipBlock"]["cidr"] for s in sources if isinstance(s.get("ipBlock"), Mapping)]
        beyond = cidrs.outside(blocks, ctx.trusted_cidrs) if sources else "every address (no `from`)"
        if not beyond:
            continue
        if ctx.allowed_cidrs:
            yield f"ingress rule {index} admits {beyond}, beyond the tenant's allow list {list(ctx.allowed_cidrs)}"
        elif not rule.get("ports"):
            yield f"ingress rule {index} admits {beyond} on every port; restrict it to the listener port"


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


def pod_restricted(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    pod = input_at(view.inputs, POD_SPEC_PATHS[view.type])
    if not isinstance(pod, Mapping):
        yield "the workload has no pod spec to check"
        return
    if shared := [k for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k) is True]:
        yield f"the pod shares the node's namespaces ({', '.join(shared)}); remove them"
    if host_paths := [v.get("name") for v in pod.get("volumes") or [] if isinstance(v, Mapping) and "hostPath" in v]:
        yield f"the pod mounts host paths (volumes {host_paths}); use emptyDir, a ConfigMap or a Secret"
    for container in _containers(pod):
        name, security = container.get("name"), container.get("securityContext") or {}
        if security.get("privileged") is True:
            yield f"container {name!r} is privileged; set securityContext.privileged false"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"container {name!r} may escalate privileges; set securityContext.allowPrivilegeEscalation false"
        added = set(input_at(security, "capabilities.add") or []) - ALLOWED_ADDED_CAPABILITIES
        if added:
            yield f"container {name!r} adds capabilities {sorted(added)}; drop ALL and add none"


# --------------------------------------------------------------------------------------------- RBAC
# "cluster-admin" is the superuser ClusterRole ("Default roles and role bindings", user-facing roles:
# https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles); a rule with verb `*` on
# resource `*` grants the same over its scope. Bound to a workload's service account it hands every pod that
# mounts the account's token the whole cluster (or namespace): "RBAC good practices", least privilege
# (https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege).
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
SUPERUSER_ROLES = frozenset({"cluster-admin"})
# Groups every service account (or every one of a namespace) belongs to: "Service account permissions",
# https://kubernetes.io/docs/reference/access-authn-authz/rbac/#service-account-permissions.
SERVICE_ACCOUNT_GROUP = "system:serviceaccounts"


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def grants_everything(rules: Any) -> bool:
    """Whether a Role's rules give every verb on every resource (of some API group, or every URL)."""
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping) or "*" not in _listed(rule.get("verbs")):
            continue
        if "*" in _listed(rule.get("resources")) or "*" in _listed(rule.get("nonResourceURLs")):
            return True
    return False


def role_least_privilege(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if grants_everything(view.inputs.get("rules")):
        yield "the role grants every verb ('*') on every resource ('*'); list the verbs and resources it needs"


def _workload_subjects(binding: ResourceView) -> list[str]:
    found = []
    for subject in binding.inputs.get("subjects") or []:
        if not isinstance(subject, Mapping):
            continue
        kind, name = subject.get("kind"), str(subject.get("name", ""))
        if kind == "ServiceAccount":
            found.append(f"service account {subject.get('namespace', namespace_of(binding))}/{name}")
        elif kind == "Group" and (name == SERVICE_ACCOUNT_GROUP or name.startswith(f"{SERVICE_ACCOUNT_GROUP}:")):
            found.append(f"group {name}")
    return found


def workloads_not_superusers(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """No binding gives a workload's service account cluster-admin, or a role of the stack with `*` on `*`."""
    everything = {
        (v.type, str(input_at(v.inputs, "metadata.name")))
        for v in graph.of_type(CLUSTER_ROLE, ROLE)
        if grants_everything(v.inputs.get("rules"))
    }
    for binding in graph.of_type(CLUSTER_ROLE_BINDING, ROLE_BINDING):
        ref = binding.inputs.get("roleRef") or {}
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        superuser = (kind == "ClusterRole" and name in SUPERUSER_ROLES) or (
            (CLUSTER_ROLE if kind == "ClusterRole" else ROLE, name) in everything
        )
        subjects = _workload_subjects(binding)
        if superuser and subjects:
            yield violation(
                Rule.LEAST_PRIVILEGE,
                binding,
                f"binds {kind} {name!r} (every verb on every resource) to {', '.join(subjects)}; "
                "bind a role that lists the verbs and resources the workload needs",
            )


# --------------------------------------------------------------------------------------------- private link

# Azure's cloud provider creates a Private Link service for a LoadBalancer Service from these annotations;
# each takes a space-separated list of subscription IDs and "*" means every subscription
# (https://cloud-provider-azure.sigs.k8s.io/topics/pls-integration/).
AZURE_PLS_VISIBILITY = "service.beta.kubernetes.io/azure-pls-visibility"
AZURE_PLS_AUTO_APPROVAL = "service.beta.kubernetes.io/azure-pls-auto-approval"


def service_private_link_consumers(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    annotations = input_at(view.inputs, "metadata.annotations") or {}
    if not isinstance(annotations, Mapping):
        return
    if str(annotations.get(AZURE_PLS_AUTO_APPROVAL, "")).split():
        yield (
            f"the Private Link service auto-approves connections ({AZURE_PLS_AUTO_APPROVAL}); remove it so every "
            "private connection is approved by hand"
        )
    if AZURE_PLS_VISIBILITY in annotations:
        listed = str(annotations[AZURE_PLS_VISIBILITY]).split()
        if "*" in listed:
            yield (
                f"the Private Link service is visible to every subscription ({AZURE_PLS_VISIBILITY}: *); "
                "list the spec's consumers"
            )
        elif beyond := sorted(set(listed) - set(ctx.private_link_consumers)):
            yield f"the Private Link service is visible to {beyond}, not among the spec's private_link_consumers"


KUBERNETES_RULES = CloudRules(
    checks={
        Rule.NO_OPEN_INGRESS: {SERVICE: service_open_ingress, NETWORK_POLICY: network_policy_open_ingress},
        Rule.TLS_IN_TRANSIT: {SERVICE: service_tls_only},
        Rule.POD_SECURITY: dict.fromkeys(POD_SPEC_PATHS, pod_restricted),
        Rule.NO_CROSS_TENANT_SHARING: {SERVICE: service_private_link_consumers},
        Rule.LEAST_PRIVILEGE: {CLUSTER_ROLE: role_least_privilege, ROLE: role_least_privilege},
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
    graph_checks=(default_deny_everywhere, private_link_backend_is_own, workloads_not_superusers),
)
