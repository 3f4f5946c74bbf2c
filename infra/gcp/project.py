"""Where a GCP tenant lives: its project, its region and the provider pinned to both, plus the Google
service agents that must be allowed to use the tenant key (CMEK)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_gcp as gcp

from infra.cloud import BuildContext, CloudContext


class ServiceAgent(StrEnum):
    """Google-managed service accounts (service-<project number>@<domain>) that encrypt with the tenant key."""

    CLOUD_SQL = "gcp-sa-cloud-sql"
    MEMORYSTORE = "cloud-redis"
    GKE = "container-engine-robot"
    CLOUD_STORAGE = "gs-project-accounts"


def project_number_from_agent(email: str) -> str:
    """Service agents are `service-<project number>@<domain>`: the number is read off the one agent the
    service-identity API returns (Cloud SQL's), so no data-source lookup is needed."""
    local, _, domain = email.partition("@")
    number = local.removeprefix("service-")
    if not (local.startswith("service-") and number.isdigit() and domain):
        raise ValueError(f"unexpected service agent address {email!r}: expected service-<number>@<domain>")
    return number


def service_agent_member(project_number: str, agent: ServiceAgent) -> str:
    """IAM member of a service agent: `serviceAccount:service-<number>@<domain>.iam.gserviceaccount.com`."""
    if not project_number.isdigit():
        raise ValueError(f"a GCP project number is all digits, got {project_number!r}")
    return f"serviceAccount:service-{project_number}@{agent.value}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class GcpContext(CloudContext):
    """The tenant's project and region, and the provider every GCP resource of the tenant goes through."""

    provider: gcp.Provider
    project: str
    region: str
    number: pulumi.Output[str]  # project number, needed for service-agent identities

    @property
    def labels(self) -> dict[str, str]:
        return self.ctx.tags

    def agent_member(self, agent: ServiceAgent) -> pulumi.Output[str]:
        return self.number.apply(lambda number: service_agent_member(number, agent))


def open_project(ctx: BuildContext) -> GcpContext:
    """The provider pinned to the tenant's project and region, and the project number. Cloud SQL's service
    agent exists only once asked for, so asking for it also yields the number."""
    spec = ctx.spec
    if not spec.gcp_project:
        raise ValueError(f"tenant {spec.name!r} has no gcp_project; set it in the tenant spec")
    provider = gcp.Provider(
        ctx.name("gcp"),
        project=spec.gcp_project,
        region=spec.region,
        default_labels=ctx.tags,
        opts=ctx.opts(),
    )
    sql_agent = gcp.projects.ServiceIdentity(
        ctx.name("sql-agent"),
        project=spec.gcp_project,
        service="sqladmin.googleapis.com",
        opts=ctx.opts(provider=provider),
    )
    return GcpContext(
        ctx=ctx,
        project=spec.gcp_project,
        region=spec.region,
        provider=provider,
        number=sql_agent.email.apply(project_number_from_agent),
    )
