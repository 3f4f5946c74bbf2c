"""Where a GCP tenant lives: its project, its region and the provider pinned to both, the check that the
project is the tenant's own, and the context every GCP part is built with.

Isolation boundary: **one project per tenant**. A project holds account-wide state that two tenants cannot
share: the GKE workload identity pool `<project>.svc.id.goog` is one per project, so the same Kubernetes
service account (`enclave/enclave-gateway`) in two tenants' clusters would be one IAM principal ("About
Workload Identity Federation for GKE", section "Identity sameness",
https://cloud.google.com/kubernetes-engine/docs/concepts/workload-identity), and the project's Data Access
audit configuration for `allServices` is a single setting. The operator labels the project
`enclave-tenant=<tenant>` when creating it; the program reads the label through the provider and refuses a
project labelled for another tenant or not labelled at all, so two tenants' stacks never share one project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from infra.cloud import BuildContext, CloudContext
from infra.spec import TENANT_TAG


class ServiceAgent(StrEnum):
    """Google-managed service accounts (`service-<project number>@<domain>`) that encrypt with the tenant key;
    the value is the domain's first label."""

    CLOUD_SQL = "gcp-sa-cloud-sql"
    MEMORYSTORE = "cloud-redis"
    GKE = "container-engine-robot"
    CLOUD_STORAGE = "gs-project-accounts"

    @property
    def service(self) -> str:
        """The API whose agent this is."""
        return _AGENT_SERVICES[self]


_AGENT_SERVICES = {
    ServiceAgent.CLOUD_SQL: "sqladmin.googleapis.com",
    ServiceAgent.MEMORYSTORE: "redis.googleapis.com",
    ServiceAgent.GKE: "container.googleapis.com",
    ServiceAgent.CLOUD_STORAGE: "storage.googleapis.com",
}


class ProjectClaimError(ValueError):
    """The spec's project is not labelled as this tenant's own."""


def service_agent_member(project_number: str, agent: ServiceAgent) -> str:
    """IAM member of a service agent: `serviceAccount:service-<number>@<domain>.iam.gserviceaccount.com`."""
    if not project_number.isdigit():
        raise ValueError(f"a GCP project number is all digits, got {project_number!r}")
    return f"serviceAccount:service-{project_number}@{agent.value}.iam.gserviceaccount.com"


def check_project_claim(project: str, tenant: str, labels: Mapping[str, str] | None, number: str | None) -> str:
    """The project's number, once its `enclave-tenant` label says it belongs to `tenant` (see the module
    docstring); otherwise a clear refusal naming the one command that fixes it."""
    owner = (labels or {}).get(TENANT_TAG)
    fix = f"gcloud projects update {project} --update-labels={TENANT_TAG}={tenant}"
    if owner is None:
        raise ProjectClaimError(
            f"project {project!r} carries no {TENANT_TAG} label: every Enclave tenant needs a project of its own; "
            f"create one for {tenant!r} and label it ({fix})"
        )
    if owner != tenant:
        raise ProjectClaimError(
            f"project {project!r} belongs to tenant {owner!r}, not {tenant!r}: two tenants never share a project "
            "(the GKE workload identity pool and the audit configuration are per project); give this tenant "
            "its own project"
        )
    if not number or not number.isdigit():
        raise ProjectClaimError(f"project {project!r} returned no project number")
    return number


@dataclass(frozen=True)
class GcpContext(CloudContext):
    """The tenant's project and region, the provider every GCP resource of the tenant goes through, and what
    every resource waits for: the project's enabled APIs (`prerequisites`, set by infra/gcp/services.py)."""

    provider: gcp.Provider
    project: str
    number: pulumi.Output[str]  # the project number, read once the project's claim is checked
    prerequisites: tuple[pulumi.Resource, ...] = ()
    agents: Mapping[ServiceAgent, pulumi.Output[str]] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return self.ctx.tags

    def opts(self, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a resource of this project: after the APIs it needs are enabled (every API the stack
        uses, so no resource races its service's enablement), plus its own `depends_on`."""
        own = cast("Sequence[pulumi.Resource]", kwargs.pop("depends_on", ()))
        return super().opts(stateful=stateful, depends_on=[*self.prerequisites, *own], **kwargs)

    def agent_member(self, agent: ServiceAgent) -> pulumi.Output[str]:
        """The agent's IAM member, which waits for the agent to exist (infra/gcp/services.py creates it)."""
        if agent not in self.agents:
            raise ValueError(f"the {agent.name} service agent is used before the project's services are built")
        return self.agents[agent]


def _claimed_number(project: str, tenant: str, found: Any) -> str:
    labels = {**(found.labels or {}), **(found.effective_labels or {})}
    return check_project_claim(project, tenant, labels, found.number)


def open_project(ctx: BuildContext) -> GcpContext:
    """The provider pinned to the tenant's project and region, and the project number once the project is
    known to be this tenant's (read through the provider, `gcp.organizations.get_project`)."""
    spec = ctx.spec
    if not spec.gcp_project:
        raise ValueError(f"tenant {spec.name!r} has no gcp_project; set it in the tenant spec")
    project = spec.gcp_project
    provider = gcp.Provider(
        ctx.name("gcp"),
        project=project,
        region=spec.region,
        default_labels=ctx.tags,
        opts=ctx.opts(),
    )
    found = gcp.organizations.get_project_output(
        project_id=project, opts=pulumi.InvokeOutputOptions(provider=provider, parent=ctx.parent)
    )
    number = found.apply(lambda result: _claimed_number(project, spec.name, result))
    return GcpContext(ctx=ctx, provider=provider, project=project, number=number)
