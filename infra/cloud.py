"""The contract between the cloud-agnostic stack and each cloud module.

Every cloud package (`infra/aws`, `infra/gcp`, `infra/azure`), registered once in `infra/clouds.py`, exposes
`build(ctx) -> TenantInfrastructure`, made of the same parts in modules of the same names: keys, network,
identity, cluster, database, cache, storage, audit_trail, connectivity. `infra/tenant.py` calls it, then deploys
the gateway workload on the cluster it returns (`infra/workload.py`), so the workload and the policy never need
to know which cloud they run on.

Conventions, the same on every cloud (the shape of pulumi/examples `aws-py-hub-and-spoke-network/spoke.py`
and alan-turing-institute/data-safe-haven `infrastructure/programs/sre/*.py`):
- **Context.** Each cloud has one context class, `<Cloud>Context` (`AwsContext`, `GcpContext`,
  `AzureContext`), a frozen dataclass deriving from `CloudContext`: the `BuildContext`, the provider pinned to
  the tenant's account and region, and what that cloud's parts all need (GCP: project and project number;
  Azure: the resource group). Every resource takes its options from `context.opts(...)` (parent, provider,
  protection) and its logical name from `context.name(part)` (`<tenant>-<part>`).
- **Parts.** Each part is a `PartComponent` subclass (type token `enclave:<cloud>:<Part>`, e.g.
  `enclave:aws:Network`, named `<tenant>-<part>`) built from the cloud's context and **its own args dataclass**
  (`NetworkArgs`, `ClusterArgs`, ...): exactly the values that part needs, taken from the spec and from earlier
  parts by the cloud's `build` (the composition point, and the only code that reads the TenantSpec). A part never
  reads the spec itself. Its resources are its children (`context.within(self)`), so the resource tree reads as
  the architecture: TenantStack -> provider, (Services,) Keys, Network, Identity, Cluster, Database, Cache,
  Storage, AuditTrail, Connectivity, Gateway. The component exposes what later parts need as typed attributes
  and registers its outputs (`register_outputs`), as a Pulumi component should.
- **Results.** The data parts expose `.endpoint` (`DatabaseEndpoint`, `CacheEndpoint`) on every cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self

import pulumi

from infra.sizes import SizePreset
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

    def within(self, component: pulumi.Resource) -> BuildContext:
        """The same context, with `component` as the parent of what is built with it."""
        return replace(self, parent=component)


class Part(StrEnum):
    """The parts every cloud builds; the value is the component's type name (`enclave:<cloud>:<value>`)."""

    SERVICES = "Services"  # what the stack holds in its account (GCP: APIs, service agents; Azure: the claim)
    KEYS = "Keys"
    NETWORK = "Network"
    IDENTITY = "Identity"  # the gateway's workload identity (IRSA role / service account / managed identity)
    CLUSTER = "Cluster"
    AUTOSCALING = "Autoscaling"  # node autoscaling where the cloud has none built in (AWS: Cluster Autoscaler)
    DATABASE = "Database"
    CACHE = "Cache"
    STORAGE = "Storage"
    AUDIT_TRAIL = "AuditTrail"
    CONNECTIVITY = "Connectivity"

    @property
    def slug(self) -> str:
        """`AuditTrail` -> `audit-trail`: the component's logical name after the tenant prefix."""
        return "".join(f"-{c.lower()}" if c.isupper() else c for c in self.value).lstrip("-")


class PartComponent(pulumi.ComponentResource):
    """One part of a tenant's infrastructure, `enclave:<cloud>:<Part>` named `<tenant>-<part>`: the parent of
    the part's resources. Subclasses set `part`, take their context and their args dataclass, build their
    children with `context.within(self)`, and end with `self.register_outputs(...)`."""

    part: ClassVar[Part]

    def __init__(self, ctx: BuildContext) -> None:
        super().__init__(
            f"enclave:{ctx.spec.cloud.value}:{self.part.value}",
            ctx.name(self.part.slug),
            None,
            pulumi.ResourceOptions(parent=ctx.parent),
        )

    def publish(self, **outputs: Any) -> None:
        """Register the part's outputs (camelCase names, as stack outputs read) once its children exist."""
        self.register_outputs(outputs)


@dataclass(frozen=True)
class CloudContext:
    """What every part of one cloud shares: the build context (tenant, parent) and the provider pinned to the
    tenant's account and region. Each cloud derives its `<Cloud>Context` from this (see the module docstring)."""

    ctx: BuildContext
    provider: pulumi.ProviderResource

    @property
    def spec(self) -> TenantSpec:
        """For the cloud's `build` (the composition point) only; parts take their args instead."""
        return self.ctx.spec

    @property
    def tenant(self) -> str:
        return self.ctx.spec.name

    @property
    def region(self) -> str:
        """The region the provider is pinned to."""
        return self.ctx.spec.region

    @property
    def deletion_protection(self) -> bool:
        """Whether stateful resources are protected (Pulumi's protect option, and locks where a cloud has them)."""
        return self.ctx.spec.deletion_protection

    def name(self, part: str) -> str:
        return self.ctx.name(part)

    def opts(self, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a resource of this cloud: parented to the current part, through the tenant's provider."""
        return self.ctx.opts(stateful=stateful, provider=self.provider, **kwargs)

    def within(self, component: pulumi.Resource) -> Self:
        """The same context for the children of `component` (a part)."""
        return replace(self, ctx=self.ctx.within(component))


@dataclass(frozen=True)
class NodePool:
    """The cluster's autoscaled node pool, from the size preset: EC2 instance type / GCE machine type / Azure VM
    size, and the bounds the cloud's autoscaler keeps it in."""

    machine_type: str
    count_min: int
    count_max: int

    @classmethod
    def of(cls, preset: SizePreset) -> NodePool:
        return cls(preset.node_machine_type, preset.node_count_min, preset.node_count_max)


@dataclass(frozen=True)
class DatabaseEndpoint:
    host: pulumi.Output[str]
    port: int
    name: str
    user: str
    password: pulumi.Output[str]  # secret
    # PEM of the CA(s) the instance's server certificate chains to, when it is the instance's own CA rather than
    # one the image trusts; the workload mounts it and points the URL at it (infra/workload.py).
    server_ca: pulumi.Output[str] | None = None
    # False only where the server CA is dedicated to this one instance (so the chain alone identifies it) and
    # its certificate does not name the address the gateway connects to.
    check_hostname: bool = True


@dataclass(frozen=True)
class CacheEndpoint:
    host: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]  # secret
    server_ca: pulumi.Output[str] | None = None  # as DatabaseEndpoint.server_ca
    check_hostname: bool = True


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
class EgressAllow:
    """A node-local destination the gateway pods must reach besides DNS, the data services and port 443: e.g.
    GKE's metadata server, which hands pods their workload-identity tokens."""

    cidr: str
    ports: tuple[int, ...]


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
    identity_egress: tuple[EgressAllow, ...] = ()  # where pods fetch their workload-identity tokens, if local
    # The cloud APIs the gateway calls (signing, token exchange, storage probes), reached privately: the cloud
    # module's private endpoints for them. With the spec's `connectivity.egress_cidrs` (the IdP's addresses)
    # they are the only destinations on 443 the gateway's NetworkPolicy admits.
    api_egress: tuple[EgressAllow, ...] = ()
    extra_outputs: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class CloudModule(Protocol):
    def build(self, ctx: BuildContext) -> TenantInfrastructure: ...
