"""The Services part: the APIs the tenant's stack uses, enabled in its project by the program, and the Google
service agents that encrypt with the tenant key, created before anything grants them the key.

Every other GCP resource of the stack depends on the enabled APIs (`GcpContext.prerequisites`), so a first
`pulumi up` on a fresh project never calls a disabled API. What the program cannot enable for itself (the
Service Usage and Cloud Resource Manager APIs its own calls go through) is the operator's step, listed in
docs/tenant-stack.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
from infra.gcp.project import GcpContext, ServiceAgent, service_agent_member

# What each API is for: the resources of this stack (and the gateway at run time) that call it.
REQUIRED_APIS = (
    "compute.googleapis.com",  # VPC, subnets, NAT, firewall rules, load balancing, addresses
    "container.googleapis.com",  # GKE cluster and node pool
    "sqladmin.googleapis.com",  # Cloud SQL
    "redis.googleapis.com",  # Memorystore for Redis
    "servicenetworking.googleapis.com",  # private services access (Cloud SQL and Memorystore addresses)
    "cloudkms.googleapis.com",  # the tenant key
    "iam.googleapis.com",  # service accounts and their bindings
    "iamcredentials.googleapis.com",  # the gateway signs URLs through signBlob, as its own service account
    "logging.googleapis.com",  # audit log sink, GKE and flow logs
    "monitoring.googleapis.com",  # GKE system metrics written by the nodes
    "storage.googleapis.com",  # the tenant's bucket and the audit archive
    "dns.googleapis.com",  # the private googleapis.com zone that keeps the gateway's API calls on Google's VIP
)


@dataclass(frozen=True)
class ServicesArgs:
    apis: tuple[str, ...] = REQUIRED_APIS


class Services(PartComponent):
    """Enables the APIs and creates the service agents; `project` is the context every later part is built
    with: its resources wait for the APIs, and its key grants name agents that exist."""

    part = Part.SERVICES
    project: GcpContext

    def __init__(self, scope: GcpContext, args: ServicesArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        # The services' project input resolves only once the project's claim is checked (infra/gcp/project.py),
        # so nothing is enabled, and nothing that waits for the services is created, in a project not the
        # tenant's.
        claimed = project.number.apply(lambda _: project.project)
        apis = {
            api: gcp.projects.Service(
                ctx.name(f"api-{api.split('.', maxsplit=1)[0]}"),
                project=claimed,
                service=api,
                # Destroying a tenant stack must not switch off an API that what outlives it still uses (the key
                # ring, which Cloud KMS never deletes; the locked audit archive). Set explicitly: "It should
                # generally only be `true` in configurations that manage the `organizations.Project` resource
                # itself", which this program does not (pulumi_gcp `projects.Service`, `disable_on_destroy`).
                disable_on_destroy=False,
                opts=project.opts(),
            )
            for api in args.apis
        }
        enabled = replace(project, prerequisites=tuple(apis.values()))
        agents = {agent: _service_agent(enabled, agent, apis[agent.service]) for agent in ServiceAgent}
        self.project = replace(scope, prerequisites=enabled.prerequisites, agents=agents)
        self.publish(enabledApis=list(args.apis))


def _service_agent(project: GcpContext, agent: ServiceAgent, api: gcp.projects.Service) -> pulumi.Output[str]:
    """The agent's IAM member, available once the agent exists.

    Cloud SQL, Memorystore and GKE: `gcp.projects.ServiceIdentity` (serviceusage `generateServiceIdentity`,
    "gcloud beta services identity create") creates the agent ahead of the first instance; Google documents it
    as the step before granting a CMEK key (Cloud SQL "Use customer-managed encryption keys", Memorystore for
    Redis "Use customer-managed encryption keys (CMEK)", GKE "Encrypt secrets at the application layer": the
    agent `service-<number>@container-engine-robot.iam.gserviceaccount.com` gets the key; Google's own
    terraform-google-kubernetes-engine example `safer_cluster_iap_bastion/apis.tf` creates that agent the same
    way, through project_services' `activate_api_identities`). The member is written
    from the project number and the agent's documented domain, because that API "may not return the service
    identity's details" (terraform-provider-google, resource_project_service_identity.go); it carries the
    identity's id, so every grant to it waits for the identity.

    Cloud Storage: its agent is created by the Cloud Storage API's `projects.serviceAccount.get`, which the
    provider's `storage.get_project_service_account` calls ("Always prefer to use this data source over
    interpolating the project ID into the well-known format for this service account", pulumi_gcp docs;
    Cloud Storage "Service agents", https://cloud.google.com/storage/docs/projects#service-agents).
    """
    if agent is ServiceAgent.CLOUD_STORAGE:
        found = gcp.storage.get_project_service_account_output(
            project=project.project,
            opts=pulumi.InvokeOutputOptions(provider=project.provider, parent=project.ctx.parent, depends_on=[api]),
        )
        return found.email_address.apply(lambda email: f"serviceAccount:{email}")
    identity = gcp.projects.ServiceIdentity(
        project.ctx.name(f"agent-{agent.name.lower().replace('_', '-')}"),
        project=project.project,
        service=agent.service,
        opts=project.opts(),
    )
    return pulumi.Output.all(identity.id, project.number).apply(lambda args: service_agent_member(args[1], agent))
