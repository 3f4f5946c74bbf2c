"""The contract between the cloud-agnostic stack and each cloud module.

Every cloud package (`infra/aws`, `infra/gcp`, `infra/azure`), registered once in `infra/clouds.py`, exposes
`build(ctx) -> TenantInfrastructure`, made of the same parts in modules of the same names: keys, network,
identity, cluster, database, cache, storage, audit_trail, connectivity. `infra/tenant.py` calls it, then deploys
the gateway workload on the cluster it returns (`infra/workload.py`), so the workload and the policy never need
to know which cloud they run on.

Conventions, the same on every cloud:
- **Context.** Each cloud has one context class, `<Cloud>Context` (`AwsContext`, `GcpContext`,
  `AzureContext`), a frozen dataclass deriving from `CloudContext`: the `BuildContext`, the provider pinned to
  the tenant's account and region, and what that cloud's parts all need (GCP: project and project number;
  Azure: the resource group). Every resource takes its options from `context.opts(...)` (parent, provider,
  protection) and its logical name from `context.name(part)` (`<tenant>-<part>`).
- **Parts.** `build` opens one `PartComponent` per `Part` (type token `enclave:<cloud>:<Part>`, e.g.
  `enclave:aws:Network`) with `context.part(Part.NETWORK)` and builds that part's resources with the context
  it returns, so they are the component's children and the resource tree reads as the architecture:
  TenantStack -> provider, (Services,) Keys, Network, Identity, Cluster, Database, Cache, Storage, AuditTrail,
  Connectivity, Gateway. Services, what the stack holds at account level (GCP: enabled APIs and service agents;
  Azure: the subscription claim), only where the cloud needs it. What a part hands to later parts is its build
  function's result dataclass (the part's args for the next): e.g. `build_cluster(context, network, keys)`.
- **Results.** `build_<part>` returns a frozen dataclass of the part's resources and Outputs; the data parts
  expose `.endpoint` (`DatabaseEndpoint`, `CacheEndpoint`) on every cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol, Self

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

    def part(self, part: Part) -> BuildContext:
        """A context whose resources are children of a new component for `part` under the current parent."""
        return replace(self, parent=PartComponent(self, part))


class Part(StrEnum):
    """The parts every cloud builds; the value is the component's type name (`enclave:<cloud>:<value>`)."""

    SERVICES = "Services"  # what the stack holds in its account (GCP: APIs, service agents; Azure: the claim)
    KEYS = "Keys"
    NETWORK = "Network"
    IDENTITY = "Identity"  # the gateway's workload identity (IRSA role / service account / managed identity)
    CLUSTER = "Cluster"
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
    the part's resources. It holds no state of its own; its children are what gets deployed."""

    def __init__(self, ctx: BuildContext, part: Part) -> None:
        super().__init__(
            f"enclave:{ctx.spec.cloud.value}:{part.value}",
            ctx.name(part.slug),
            None,
            pulumi.ResourceOptions(parent=ctx.parent),
        )
        self.part = part
        self.register_outputs({})


@dataclass(frozen=True)
class CloudContext:
    """What every part of one cloud shares: the build context (tenant, parent) and the provider pinned to the
    tenant's account and region. Each cloud derives its `<Cloud>Context` from this (see the module docstring)."""

    ctx: BuildContext
    provider: pulumi.ProviderResource

    @property
    def spec(self) -> TenantSpec:
        return self.ctx.spec

    def name(self, part: str) -> str:
        return self.ctx.name(part)

    def opts(self, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a resource of this cloud: parented to the current part, through the tenant's provider."""
        return self.ctx.opts(stateful=stateful, provider=self.provider, **kwargs)

    def part(self, part: Part) -> Self:
        """The same context for the resources of `part`, which become children of its component."""
        return replace(self, ctx=self.ctx.part(part))


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
    extra_outputs: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class CloudModule(Protocol):
    def build(self, ctx: BuildContext) -> TenantInfrastructure: ...
