"""The platform identity: a Google service account the gateway runs as through GKE Workload Identity.
It signs URLs (V4 signing through IAM signBlob, no key file) and is what a BYOB customer grants access to.

The Identity part is built after the Cluster part, because the account's workload-identity binding needs the
cluster: the project's workload identity pool `<project>.svc.id.goog` is created with the
first cluster that enables Workload Identity, and a binding naming a member of a pool that does not exist yet
is refused ("Authenticate to Google Cloud APIs from GKE workloads": enable Workload Identity Federation on the
cluster first, then grant the Kubernetes service account's principal,
https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
from infra.gcp.project import GcpContext
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
URL_SIGNER_ROLE = "roles/iam.serviceAccountTokenCreator"  # signBlob on itself, for V4 signed URLs


def workload_pool(project: str) -> str:
    return f"{project}.svc.id.goog"


def workload_member(project: str, namespace: str, service_account: str) -> str:
    """The IAM member a Kubernetes service account becomes under GKE Workload Identity."""
    return f"serviceAccount:{workload_pool(project)}[{namespace}/{service_account}]"


@dataclass(frozen=True)
class IdentityArgs:
    cluster: pulumi.Resource  # the first cluster with Workload Identity brings the project's pool into being


class GatewayIdentity(PartComponent):
    """The gateway's service account (it signs URLs as itself), and the binding that lets the gateway's
    Kubernetes service account act as it, created after the cluster."""

    part = Part.IDENTITY
    account: gcp.serviceaccount.Account
    email: pulumi.Output[str]

    def __init__(self, scope: GcpContext, args: IdentityArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        self.account = gcp.serviceaccount.Account(
            ctx.name("gateway"),
            account_id=ctx.name("gateway"),
            project=project.project,
            display_name=f"Enclave gateway of tenant {project.tenant}",
            opts=project.opts(),
        )
        self.email = self.account.email
        gcp.serviceaccount.IAMMember(
            ctx.name("gateway-url-signer"),
            service_account_id=self.account.name,
            role=URL_SIGNER_ROLE,
            member=self.member,
            opts=project.opts(),
        )
        gcp.serviceaccount.IAMMember(
            ctx.name("gateway-workload-identity"),
            service_account_id=self.account.name,
            role=WORKLOAD_IDENTITY_USER,
            member=workload_member(project.project, NAMESPACE, SERVICE_ACCOUNT),
            opts=project.opts(depends_on=[args.cluster]),
        )
        self.publish(email=self.email)

    @property
    def member(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("serviceAccount:", self.email)
