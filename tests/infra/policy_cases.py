"""Resource views that pass or fail each rule, shared by the engine and policy-pack tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fake_cloud import CLUSTER, DATABASE, KEY, NETWORK

from infra.policy.model import PolicyContext, ResourceView, Rule

TENANT = "acme"
TAGS = {"enclave-tenant": TENANT, "managed-by": "enclave"}
OWN_NETWORK = "10.42.0.0/16"
OPEN = PolicyContext(tenant=TENANT, deletion_protection=True, allowed_cidrs=(), own_cidrs=(OWN_NETWORK,))
ALLOW_LISTED = replace(OPEN, allowed_cidrs=("203.0.113.0/24",))
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"


def view(type_: str, name: str = "acme-thing", protect: bool = False, **inputs: Any) -> ResourceView:
    return ResourceView(
        type=type_, name=name, urn=f"urn:pulumi:{TENANT}::enclave::{type_}::{name}", inputs=inputs, protect=protect
    )


def database(**changes: Any) -> ResourceView:
    inputs = {"publiclyAccessible": False, "kmsKeyId": "key-1", "requireTls": True, "tags": TAGS, **changes}
    return view(DATABASE, "acme-db", protect=True, **inputs)


def k8s_meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": "enclave", "labels": TAGS}


def service(port: int = 443, ranges: list[str] | None = None, kind: str = "LoadBalancer") -> ResourceView:
    spec = {"type": kind, "ports": [{"port": port, "targetPort": 8000}], "loadBalancerSourceRanges": ranges or []}
    return view(SERVICE, "acme-gateway-lb", metadata=k8s_meta("gateway"), spec=spec)


def ingress_policy(sources: list[str] | None, ports: bool = True) -> ResourceView:
    rule: dict[str, Any] = {"ports": [{"port": 8000}]} if ports else {}
    if sources is not None:
        rule["from"] = [{"ipBlock": {"cidr": c}} for c in sources]
    spec = {"podSelector": {"matchLabels": {"app": "gw"}}, "policyTypes": ["Ingress"], "ingress": [rule]}
    return view(NETWORK_POLICY, "acme-gateway-ingress", metadata=k8s_meta("gateway-ingress"), spec=spec)


def deployment(**container_security: Any) -> ResourceView:
    security = {"allowPrivilegeEscalation": False, "privileged": False, **container_security}
    container = {"name": "gateway", "image": "enclave/gateway:0.1.0", "securityContext": security}
    spec = {"template": {"metadata": {"labels": TAGS}, "spec": {"containers": [container]}}}
    return view(DEPLOYMENT, "acme-gateway", metadata=k8s_meta("gateway"), spec=spec)


def audit_config(*log_types: str) -> ResourceView:
    configs = [{"logType": t} for t in log_types]
    return view(AUDIT_CONFIG, "acme-audit-logs", service="allServices", project="acme-p", auditLogConfigs=configs)


# rule -> (context, compliant view, violating view)
CASES: dict[str, tuple[Rule, PolicyContext, ResourceView, ResourceView]] = {
    "public-database": (Rule.NO_PUBLIC_DATA, OPEN, database(), database(publiclyAccessible=True)),
    "unencrypted-database": (Rule.ENCRYPTION_AT_REST, OPEN, database(), database(kmsKeyId=None)),
    "plaintext-database": (Rule.TLS_IN_TRANSIT, OPEN, database(), database(requireTls=False)),
    "plaintext-listener": (Rule.TLS_IN_TRANSIT, OPEN, service(443), service(80)),
    "unprotected-key": (
        Rule.DELETION_PROTECTION,
        OPEN,
        view(KEY, "acme-key", protect=True, tags=TAGS),
        view(KEY, "acme-key", protect=False, tags=TAGS),
    ),
    "public-cluster": (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        OPEN,
        view(CLUSTER, "acme-cluster", endpointPublic=False, tags=TAGS),
        view(CLUSTER, "acme-cluster", endpointPublic=True, tags=TAGS),
    ),
    "untagged": (Rule.TENANT_TAG, OPEN, view(NETWORK, "acme-net", tags=TAGS), view(NETWORK, "acme-net", tags={})),
    "untagged-k8s": (
        Rule.TENANT_TAG,
        OPEN,
        service(),
        view(SERVICE, "acme-gateway-lb", metadata={"name": "gateway"}, spec={"type": "ClusterIP"}),
    ),
    "lb-ignores-allow-list": (
        Rule.NO_OPEN_INGRESS,
        ALLOW_LISTED,
        service(ranges=["203.0.113.0/25"]),
        service(ranges=[]),
    ),
    "lb-beyond-allow-list": (
        Rule.NO_OPEN_INGRESS,
        ALLOW_LISTED,
        service(ranges=["203.0.113.0/24"]),
        service(ranges=["0.0.0.0/0"]),
    ),
    "node-port": (Rule.NO_OPEN_INGRESS, OPEN, service(kind="ClusterIP"), service(kind="NodePort")),
    "netpol-open-despite-allow-list": (
        Rule.NO_OPEN_INGRESS,
        ALLOW_LISTED,
        ingress_policy(["203.0.113.0/24"]),
        ingress_policy(["0.0.0.0/0"]),
    ),
    "netpol-open-every-port": (Rule.NO_OPEN_INGRESS, OPEN, ingress_policy(None), ingress_policy(None, ports=False)),
    "netpol-world-split-in-two": (
        Rule.NO_OPEN_INGRESS,
        ALLOW_LISTED,
        ingress_policy(["203.0.113.0/24", OWN_NETWORK]),
        ingress_policy(["0.0.0.0/1", "128.0.0.0/1"]),
    ),
    "lb-world-split-in-two": (
        Rule.NO_OPEN_INGRESS,
        ALLOW_LISTED,
        service(ranges=["203.0.113.0/24"]),
        service(ranges=["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"]),
    ),
    "external-ips": (
        Rule.NO_OPEN_INGRESS,
        OPEN,
        service(kind="ClusterIP"),
        view(SERVICE, "acme-gateway-lb", metadata=k8s_meta("gateway"), spec={"externalIPs": ["198.51.100.7"]}),
    ),
    "privileged-container": (Rule.POD_SECURITY, OPEN, deployment(), deployment(privileged=True)),
    "privilege-escalation-left-default": (
        Rule.POD_SECURITY,
        OPEN,
        deployment(),
        deployment(allowPrivilegeEscalation=None),
    ),
    "administrator-policy": (
        Rule.LEAST_PRIVILEGE,
        OPEN,
        view(ATTACHMENT, "acme-nodes-ecr", role="acme-nodes", policyArn="arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"),
        view(
            ATTACHMENT, "acme-nodes-admin", role="acme-nodes", policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
    ),
    "data-access-not-audited": (
        Rule.AUDIT_TRAIL,
        OPEN,
        audit_config("ADMIN_READ", "DATA_READ", "DATA_WRITE"),
        audit_config("ADMIN_READ"),
    ),
    "foreign-name": (
        Rule.NO_CROSS_TENANT_SHARING,
        OPEN,
        view(NETWORK, "acme-net", tags=TAGS),
        view(NETWORK, "globex-net", tags=TAGS),
    ),
    "foreign-tag": (
        Rule.NO_CROSS_TENANT_SHARING,
        OPEN,
        view(NETWORK, "acme-net", tags=TAGS),
        view(NETWORK, "acme-net", tags={**TAGS, "enclave-tenant": "globex"}),
    ),
}
