"""The contract between the cloud-agnostic stack and each cloud module.

Every cloud package (`infra/aws`, `infra/gcp`, `infra/azure`) exposes `build(ctx) -> TenantInfrastructure`,
made of the same parts in modules of the same names: keys, network, cluster, database, cache, storage,
audit_trail, connectivity. `infra/tenant.py` calls it, then deploys the gateway workload on the cluster it
returns (`infra/workload.py`), so the workload and the policy never need to know which cloud they run on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import pulumi

from infra.spec import TenantSpec


@dataclass(frozen=True)
class BuildContext:
    spec: TenantSpec
    parent: pulumi.Resource  # the TenantStack component: every resource is its descendant

    @property
    def tags(self) -> dict[str, str]:
        return self.spec.tags

    def name(self, part: str) -> str:
        """Resource name for a part: `<tenant>-<part>` so two tenants never share a name."""
        return f"{self.spec.name}-{part}"

    def secret(self, key: str) -> pulumi.Output[str]:
        """A secret from stack config (`pulumi config set --secret <key> ...`), e.g. `databasePassword`,
        `cacheAuthToken`. Secrets never live in the spec."""
        return pulumi.Config("enclave").require_secret(key)

    def opts(self, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a child resource; stateful resources (data, keys) are protected while
        deletion protection is on, so `pulumi destroy` refuses them until it is turned off."""
        protect = self.spec.deletion_protection and stateful
        return pulumi.ResourceOptions(parent=self.parent, protect=protect, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DatabaseEndpoint:
    host: pulumi.Output[str]
    port: int
    name: str
    user: str
    password: pulumi.Output[str]  # secret


@dataclass(frozen=True)
class CacheEndpoint:
    host: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]  # secret


@dataclass(frozen=True)
class StorageWiring:
    """Where the gateway signs URLs and under which identity. For BYOB, `platform_identity` is what the
    customer's kit trusts: AWS role ARN (with `external_id`), GCP service account email, Azure managed
    identity principal id."""

    bucket: pulumi.Output[str]
    platform_identity: pulumi.Output[str]
    external_id: str | None = None


@dataclass(frozen=True)
class PrivateIngress:
    """How a private-link load balancer that the cloud module built reaches the gateway pods. The workload
    puts a second Service, `gateway-private`, in front of the pods for it (traffic policy Cluster, so every
    node answers whatever pod it lands on)."""

    node_port: int | None = None  # the load balancer targets this port on every node (AWS NLB)
    external_ips: tuple[pulumi.Output[str], ...] = ()  # passthrough load balancer addresses (GCP internal LB)


@dataclass(frozen=True)
class TenantInfrastructure:
    """What a cloud module hands back: enough to run the gateway and to fill the stack outputs."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # secret
    key_id: pulumi.Output[str]  # the tenant's KMS key / Cloud KMS key / Key Vault key
    database: DatabaseEndpoint
    cache: CacheEndpoint
    storage: StorageWiring
    audit_trail: pulumi.Output[str]  # trail ARN / sink name / diagnostic setting id
    # Kubernetes wiring that differs per cloud, applied by infra/workload.py:
    gateway_service_account_annotations: Mapping[str, pulumi.Input[str]]  # workload identity binding
    gateway_pod_labels: Mapping[str, str]
    load_balancer_annotations: Mapping[str, pulumi.Input[str]]  # TLS listener, internal/external, etc.
    private_cidrs: tuple[str, ...]  # subnets the gateway may reach (database, cache): NetworkPolicy egress
    private_link_service: pulumi.Output[str] | None = None  # endpoint service / attachment / PLS name
    private_ingress: PrivateIngress | None = None  # None: private link rides on the gateway Service itself
    extra_outputs: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class CloudModule(Protocol):
    def build(self, ctx: BuildContext) -> TenantInfrastructure: ...
