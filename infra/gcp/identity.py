"""The platform identity: a Google service account the gateway runs as through GKE Workload Identity.
It signs URLs (V4 signing through IAM signBlob, no key file) and is what a BYOB customer grants access to.

The account is built with the Identity part; its workload-identity binding only once the cluster exists
(`bind_workload_identity`): the project's workload identity pool `<project>.svc.id.goog` is created with the
first cluster that enables Workload Identity, and a binding naming a member of a pool that does not exist yet
is refused ("Authenticate to Google Cloud APIs from GKE workloads": enable Workload Identity Federation on the
cluster first, then grant the Kubernetes service account's principal,
https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

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
class GatewayIdentity:
    account: gcp.serviceaccount.Account
    email: pulumi.Output[str]

    @property
    def member(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("serviceAccount:", self.email)


def build_gateway_identity(project: GcpContext) -> GatewayIdentity:
    ctx = project.ctx
    account = gcp.serviceaccount.Account(
        ctx.name("gateway"),
        account_id=ctx.name("gateway"),
        project=project.project,
        display_name=f"Enclave gateway of tenant {ctx.spec.name}",
        opts=project.opts(),
    )
    identity = GatewayIdentity(account, account.email)
    gcp.serviceaccount.IAMMember(
        ctx.name("gateway-url-signer"),
        service_account_id=account.name,
        role=URL_SIGNER_ROLE,
        member=identity.member,
        opts=project.opts(),
    )
    return identity


def bind_workload_identity(
    project: GcpContext, identity: GatewayIdentity, cluster: gcp.container.Cluster
) -> gcp.serviceaccount.IAMMember:
    """Let the gateway's Kubernetes service account act as the gateway's Google service account; created
    after the cluster, whose creation brings the project's workload identity pool into being."""
    return gcp.serviceaccount.IAMMember(
        project.ctx.name("gateway-workload-identity"),
        service_account_id=identity.account.name,
        role=WORKLOAD_IDENTITY_USER,
        member=workload_member(project.project, NAMESPACE, SERVICE_ACCOUNT),
        opts=project.opts(depends_on=[cluster]),
    )
