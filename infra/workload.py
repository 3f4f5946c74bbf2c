"""The gateway on the tenant's own Kubernetes cluster (pulumi-kubernetes), the same on every cloud.

What differs per cloud arrives in TenantInfrastructure: the workload-identity annotations and pod labels,
the load balancer's annotations (TLS listener, internal or external) and the private subnets holding the
database and cache. Everything here is locked down by default: non-root, read-only, default-deny network
policies with explicit allows, and a load balancer that listens on 443 only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from infra.cloud import BuildContext, CacheEndpoint, DatabaseEndpoint, EgressAllow, PrivateIngress, TenantInfrastructure
from infra.policy.model import PRIVATE_LINK_BACKEND_ANNOTATION
from infra.spec import TenantSpec
from infra.stack_config import (
    AUDIT_SIGNING_KEY_KEY,
    SECRETS_KEY_KEY,
    SSO_CLIENT_SECRET_KEY,
    TLS_CERTIFICATE_KEY,
    TLS_PRIVATE_KEY_KEY,
)

COMPONENT_TYPE = "enclave:index:Gateway"
NAMESPACE = "enclave"
APP_NAME = "enclave-gateway"
SERVICE_ACCOUNT = "enclave-gateway"
CONTAINER_PORT = 8000
LISTENER_PORT = 443
TLS_SECRET = "gateway-tls"  # noqa: S105 - the name of the kubernetes.io/tls Secret the pods serve TLS with
TLS_MOUNT = "/etc/enclave/tls"
RUN_AS_USER = 10001
# What the gateway image (the repository's Dockerfile) is built to run; tests/infra/test_gateway_image.py keeps
# the two in step. The pod sets them explicitly rather than relying on the image's defaults.
GATEWAY_COMMAND = ("enclave", "serve")
WRITABLE_DIR = "/tmp"  # noqa: S108 - an emptyDir: the only writable path under a read-only root filesystem
GATEWAY_ENV = {
    "ENCLAVE_HOST": "0.0.0.0",  # noqa: S104 - inside the pod; the NetworkPolicies and Services limit who connects
    "ENCLAVE_PORT": str(CONTAINER_PORT),
    "ENCLAVE_DATA_DIR": f"{WRITABLE_DIR}/enclave",
}
# The gateway image ships the system trust store plus the provider CAs that are the same for every instance
# (RDS global bundle, DigiCert Global Root G2 for Azure), so the server certificate is verified. Where a data
# service signs with a CA of its own instance (Cloud SQL, Memorystore), the cloud module hands that CA over in
# the endpoint's `server_ca`: it goes into the `gateway-ca` ConfigMap (CA certificates are public), mounted
# read-only at CA_MOUNT, and the URL points at the file.
DATABASE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_CONFIG_MAP = "gateway-ca"
CA_MOUNT = "/etc/enclave/ca"
DATABASE_CA_FILE = "database.pem"
CACHE_CA_FILE = "cache.pem"
ANYWHERE = "0.0.0.0/0"


def database_url(db: DatabaseEndpoint) -> pulumi.Output[str]:
    """SQLAlchemy URL for MySQL over verified TLS; secret because it carries the password."""
    ca = f"{CA_MOUNT}/{DATABASE_CA_FILE}" if db.server_ca is not None else DATABASE_CA_BUNDLE
    check = "true" if db.check_hostname else "false"
    url = pulumi.Output.all(db.host, db.password).apply(
        lambda hp: (
            f"mysql+pymysql://{quote(db.user, safe='')}:{quote(hp[1], safe='')}@{hp[0]}:{db.port}/"
            f"{quote(db.name, safe='')}?ssl_ca={ca}&ssl_check_hostname={check}"
        )
    )
    return pulumi.Output.secret(url)


def cache_url(cache: CacheEndpoint) -> pulumi.Output[str]:
    """Redis URL over TLS (`rediss://`) with the AUTH token; secret. redis-py verifies the certificate and the
    host name by default; the query names the instance's own CA file and turns the host check off where the
    endpoint says so."""
    options = []
    if cache.server_ca is not None:
        options.append(f"ssl_ca_certs={CA_MOUNT}/{CACHE_CA_FILE}")
    if not cache.check_hostname:
        options.append("ssl_check_hostname=false")
    query = f"?{'&'.join(options)}" if options else ""
    url = pulumi.Output.all(cache.host, cache.auth_token).apply(
        lambda ht: f"rediss://:{quote(ht[1], safe='')}@{ht[0]}:{cache.port}/0{query}"
    )
    return pulumi.Output.secret(url)


def server_ca_files(infra: TenantInfrastructure) -> dict[str, pulumi.Output[str]]:
    """The `gateway-ca` ConfigMap's files: each data service's own server CA, where the cloud hands one over."""
    files = {DATABASE_CA_FILE: infra.database.server_ca, CACHE_CA_FILE: infra.cache.server_ca}
    return {name: pem for name, pem in files.items() if pem is not None}


def gateway_config(spec: TenantSpec, infra: TenantInfrastructure) -> dict[str, pulumi.Input[str]]:
    """Non-secret ENCLAVE_* settings: tenant, public URL, storage grant, SSO hints."""
    config: dict[str, pulumi.Input[str]] = {
        "ENCLAVE_TENANT": spec.name,
        "ENCLAVE_PUBLIC_URL": f"https://{spec.hostname}",
        "ENCLAVE_STORAGE_CLOUD": spec.cloud.value,
        "ENCLAVE_STORAGE_MODE": spec.storage.mode.value,
        "ENCLAVE_STORAGE_BUCKET": infra.storage.bucket,
        "ENCLAVE_STORAGE_PLATFORM_IDENTITY": infra.storage.platform_identity,
        "ENCLAVE_SSO_PROVIDER": spec.sso.provider.value,
    }
    if infra.storage.external_id:
        config["ENCLAVE_STORAGE_EXTERNAL_ID"] = infra.storage.external_id
    if spec.sso.issuer_url:
        config["ENCLAVE_SSO_ISSUER"] = spec.sso.issuer_url
    if spec.sso.client_id:
        config["ENCLAVE_SSO_CLIENT_ID"] = spec.sso.client_id
    return config


def ingress_sources(spec: TenantSpec) -> list[str]:
    """Who may reach the gateway pods through the load balancer. An allow list (plus the tenant network,
    for health checks) when given; the tenant network alone when the load balancer is internal; otherwise
    anyone on the listener port."""
    allowed = [str(c) for c in spec.connectivity.allowed_cidrs]
    if allowed:
        return [*allowed, str(spec.network_cidr)]
    if not spec.connectivity.public_ingress:
        return [str(spec.network_cidr)]
    return [ANYWHERE]


def load_balancer_source_ranges(spec: TenantSpec) -> list[str]:
    """`loadBalancerSourceRanges`: the allow list, or the tenant network for an internal-only gateway;
    empty (open on 443) only for a public gateway without an allow list."""
    allowed = [str(c) for c in spec.connectivity.allowed_cidrs]
    if allowed:
        return allowed
    if not spec.connectivity.public_ingress:
        return [str(spec.network_cidr)]
    return []


@dataclass(frozen=True)
class GatewayArgs:
    """What the gateway part needs: the cloud's infrastructure and the values `gateway_args` takes from the
    spec (the composition point, as each cloud's `build` is for its parts). The component never reads the
    TenantSpec."""

    infra: TenantInfrastructure
    tags: Mapping[str, str]  # the tenant tag, on every Kubernetes object
    image: str
    replicas: int
    settings: Mapping[str, pulumi.Input[str]]  # the non-secret ENCLAVE_* settings (gateway_config)
    sso_client_secret: bool  # the stack holds the SSO client secret (the spec names a client id)
    serves_tls: bool  # the load balancer passes TLS through: the pods serve HTTPS with the stack's certificate
    ingress_sources: tuple[str, ...]
    load_balancer_source_ranges: tuple[str, ...]
    egress_cidrs: tuple[str, ...]  # outside the cloud, on 443: the identity provider's ranges


def gateway_args(spec: TenantSpec, infra: TenantInfrastructure) -> GatewayArgs:
    return GatewayArgs(
        infra=infra,
        tags=spec.tags,
        image=spec.gateway_image,
        replicas=spec.preset.gateway_replicas,
        settings=gateway_config(spec, infra),
        sso_client_secret=bool(spec.sso.client_id),
        serves_tls=spec.gateway_serves_tls,
        ingress_sources=tuple(ingress_sources(spec)),
        load_balancer_source_ranges=tuple(load_balancer_source_ranges(spec)),
        egress_cidrs=tuple(str(c) for c in spec.connectivity.egress_cidrs),
    )


class GatewayWorkload(pulumi.ComponentResource):
    def __init__(self, ctx: BuildContext, args: GatewayArgs) -> None:
        super().__init__(COMPONENT_TYPE, ctx.name("gateway"), None, pulumi.ResourceOptions(parent=ctx.parent))
        self._ctx = ctx
        self._args = args
        infra = args.infra
        self.provider = k8s.Provider(
            ctx.name("k8s"),
            kubeconfig=infra.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.labels = {"app.kubernetes.io/name": APP_NAME, **args.tags}
        self.namespace = k8s.core.v1.Namespace(
            ctx.name("namespace"),
            metadata={
                "name": NAMESPACE,
                "labels": {**args.tags, "pod-security.kubernetes.io/enforce": "restricted"},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            ctx.name("gateway-sa"),
            metadata=self._meta(SERVICE_ACCOUNT, dict(infra.gateway_service_account_annotations)),
            automount_service_account_token=True,  # the projected token is the workload identity
            opts=self._opts(),
        )
        self.database_secret = self._secret("gateway-database", {"ENCLAVE_DATABASE_URL": database_url(infra.database)})
        self.cache_secret = self._secret("gateway-cache", {"ENCLAVE_CACHE_URL": cache_url(infra.cache)})
        self._secret("gateway-audit", {"ENCLAVE_AUDIT_SIGNING_KEY": ctx.secret(AUDIT_SIGNING_KEY_KEY)})
        self._secret("gateway-secrets", {"ENCLAVE_SECRETS_KEY": ctx.secret(SECRETS_KEY_KEY)})
        secret_names = ["gateway-database", "gateway-cache", "gateway-audit", "gateway-secrets"]
        if args.sso_client_secret:
            self._secret("gateway-sso", {"ENCLAVE_SSO_CLIENT_SECRET": ctx.secret(SSO_CLIENT_SECRET_KEY)})
            secret_names.append("gateway-sso")
        self.config_map = k8s.core.v1.ConfigMap(
            ctx.name("gateway-config"),
            metadata=self._meta("gateway-config"),
            data=dict(args.settings),
            opts=self._opts(),
        )
        ca_files = server_ca_files(infra)
        if ca_files:
            k8s.core.v1.ConfigMap(
                ctx.name(CA_CONFIG_MAP),
                metadata=self._meta(CA_CONFIG_MAP),
                data=ca_files,
                opts=self._opts(),
            )
        if args.serves_tls:
            self._secret(
                TLS_SECRET,
                {"tls.crt": ctx.secret(TLS_CERTIFICATE_KEY), "tls.key": ctx.secret(TLS_PRIVATE_KEY_KEY)},
                kind="kubernetes.io/tls",
            )
        self.deployment = self._deployment(infra, secret_names)
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            ctx.name("gateway-pdb"),
            metadata=self._meta("gateway"),
            spec={"min_available": 1, "selector": {"match_labels": self._selector}},
            opts=self._opts(),
        )
        self.network_policies = self._network_policies(infra)
        self.service = k8s.core.v1.Service(
            ctx.name("gateway-lb"),
            metadata=self._meta("gateway", dict(infra.load_balancer_annotations)),
            spec={
                "type": "LoadBalancer",
                "external_traffic_policy": "Local",  # keeps client addresses for the NetworkPolicy allow list
                "load_balancer_source_ranges": list(args.load_balancer_source_ranges),
                "selector": self._selector,
                "ports": [{"name": "https", "port": LISTENER_PORT, "target_port": CONTAINER_PORT, "protocol": "TCP"}],
            },
            opts=self._opts(),
        )
        self.private_service = self._private_service(infra.private_ingress) if infra.private_ingress else None
        self.register_outputs(
            {
                "namespace": self.namespace.metadata.name,
                "serviceAccount": self.service_account.metadata.name,
                "deployment": self.deployment.metadata.name,
                "service": self.service.metadata.name,
            }
        )

    def _private_service(self, ingress: PrivateIngress) -> k8s.core.v1.Service:
        """The private-link load balancer's way in: a pinned node port (AWS NLB) or the internal load
        balancer's addresses (GCP passthrough). Traffic policy Cluster: any node forwards to any pod."""
        port: k8s.core.v1.ServicePortArgsDict = {
            "name": "https",
            "port": LISTENER_PORT,
            "target_port": CONTAINER_PORT,
            "protocol": "TCP",
        }
        spec: k8s.core.v1.ServiceSpecArgsDict = {"selector": self._selector, "ports": [port]}
        if ingress.node_port is not None:
            port["node_port"] = ingress.node_port
            spec["type"] = "NodePort"
            spec["external_traffic_policy"] = "Cluster"
        if ingress.external_ips:
            spec["external_ips"] = list(ingress.external_ips)
        return k8s.core.v1.Service(
            self._ctx.name("gateway-private"),
            metadata=self._meta("gateway-private", {PRIVATE_LINK_BACKEND_ANNOTATION: "true"}),
            spec=spec,
            opts=self._opts(),
        )

    @property
    def _selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": APP_NAME}

    def _opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.namespace])

    def _meta(
        self, name: str, annotations: dict[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgsDict:
        meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": name, "namespace": NAMESPACE, "labels": self.labels}
        if annotations:
            meta["annotations"] = annotations
        return meta

    def _secret(self, name: str, data: dict[str, pulumi.Input[str]], kind: str = "Opaque") -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            self._ctx.name(name),
            metadata=self._meta(name),
            type=kind,
            string_data=data,
            opts=self._opts(),
        )

    def _deployment(self, infra: TenantInfrastructure, secret_names: Sequence[str]) -> k8s.apps.v1.Deployment:
        args = self._args
        pod_labels = {**self.labels, **infra.gateway_pod_labels}
        env_from: list[k8s.core.v1.EnvFromSourceArgsDict] = [{"config_map_ref": {"name": "gateway-config"}}]
        env_from += [{"secret_ref": {"name": name}} for name in secret_names]
        scheme = "HTTPS" if args.serves_tls else "HTTP"
        volume_mounts: list[k8s.core.v1.VolumeMountArgsDict] = [{"name": "tmp", "mount_path": WRITABLE_DIR}]
        volumes: list[k8s.core.v1.VolumeArgsDict] = [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}]
        env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": key, "value": value} for key, value in GATEWAY_ENV.items()]
        if args.serves_tls:
            volume_mounts.append({"name": "tls", "mount_path": TLS_MOUNT, "read_only": True})
            volumes.append({"name": "tls", "secret": {"secret_name": TLS_SECRET, "default_mode": 0o440}})
            env += [
                {"name": "ENCLAVE_TLS_CERT_FILE", "value": f"{TLS_MOUNT}/tls.crt"},
                {"name": "ENCLAVE_TLS_KEY_FILE", "value": f"{TLS_MOUNT}/tls.key"},
            ]
        if server_ca_files(infra):
            volume_mounts.append({"name": "server-ca", "mount_path": CA_MOUNT, "read_only": True})
            volumes.append({"name": "server-ca", "config_map": {"name": CA_CONFIG_MAP, "default_mode": 0o444}})
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "gateway",
            "image": args.image,
            "command": list(GATEWAY_COMMAND),
            "ports": [{"name": scheme.lower(), "container_port": CONTAINER_PORT, "protocol": "TCP"}],
            "env": env,
            "env_from": env_from,
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
            "liveness_probe": {
                "http_get": {"path": "/healthz", "port": CONTAINER_PORT, "scheme": scheme},
                "initial_delay_seconds": 10,
                "period_seconds": 10,
            },
            "readiness_probe": {
                "http_get": {"path": "/readyz", "port": CONTAINER_PORT, "scheme": scheme},
                "period_seconds": 5,
            },
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": RUN_AS_USER,
                "read_only_root_filesystem": True,
                "allow_privilege_escalation": False,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
            },
            "volume_mounts": volume_mounts,
        }
        return k8s.apps.v1.Deployment(
            self._ctx.name("gateway"),
            metadata=self._meta("gateway"),
            spec={
                "replicas": args.replicas,
                "selector": {"match_labels": self._selector},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {
                        "service_account_name": SERVICE_ACCOUNT,
                        "security_context": {
                            "run_as_non_root": True,
                            "run_as_user": RUN_AS_USER,
                            "fs_group": RUN_AS_USER,
                            "seccomp_profile": {"type": "RuntimeDefault"},
                        },
                        "topology_spread_constraints": [
                            {
                                "max_skew": 1,
                                "topology_key": "topology.kubernetes.io/zone",
                                "when_unsatisfiable": "DoNotSchedule",
                                "label_selector": {"match_labels": self._selector},
                            }
                        ],
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
            opts=self._opts(),
        )

    def _network_policy(
        self, name: str, spec: k8s.networking.v1.NetworkPolicySpecArgsDict
    ) -> k8s.networking.v1.NetworkPolicy:
        return k8s.networking.v1.NetworkPolicy(
            self._ctx.name(name), metadata=self._meta(name), spec=spec, opts=self._opts()
        )

    def _network_policies(self, infra: TenantInfrastructure) -> list[k8s.networking.v1.NetworkPolicy]:
        """Default deny both ways for every pod in the namespace, then the gateway's explicit allows."""
        if not infra.private_cidrs:  # an empty `to` would allow egress everywhere on these ports
            raise ValueError("the cloud module returned no private_cidrs for the database and cache")
        gateway: k8s.meta.v1.LabelSelectorArgsDict = {"match_labels": self._selector}
        # Where the node hands pods their workload-identity tokens (GKE's metadata server), if the cloud says,
        # and on 443 only what the gateway calls: the cloud's private API endpoints and the spec's egress ranges
        # (the identity provider). An empty `to` would admit every destination, so each rule lists its peers.
        https_peers = [*(a.cidr for a in infra.api_egress), *self._args.egress_cidrs]
        egress_allows = [*infra.identity_egress, *(EgressAllow(cidr, (LISTENER_PORT,)) for cidr in https_peers)]
        allowed_egress: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
            {
                "to": [{"ip_block": {"cidr": allow.cidr}}],
                "ports": [{"port": port, "protocol": "TCP"} for port in allow.ports],
            }
            for allow in egress_allows
        ]
        private_ports: list[k8s.networking.v1.NetworkPolicyPortArgsDict] = [
            {"port": infra.database.port, "protocol": "TCP"},
            {"port": infra.cache.port, "protocol": "TCP"},
        ]
        return [
            self._network_policy("default-deny", {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}),
            self._network_policy(
                "gateway-ingress",
                {
                    "pod_selector": gateway,
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from_": [{"ip_block": {"cidr": c}} for c in self._args.ingress_sources],
                            "ports": [{"port": p, "protocol": "TCP"} for p in (LISTENER_PORT, CONTAINER_PORT)],
                        }
                    ],
                },
            ),
            self._network_policy(
                "gateway-egress",
                {
                    "pod_selector": gateway,
                    "policy_types": ["Egress"],
                    "egress": [
                        {  # cluster DNS
                            "to": [{"namespace_selector": {}}],
                            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                        },
                        {  # database and cache, in the tenant's private subnets only
                            "to": [{"ip_block": {"cidr": c}} for c in infra.private_cidrs],
                            "ports": private_ports,
                        },
                        *allowed_egress,
                    ],
                },
            ),
        ]
