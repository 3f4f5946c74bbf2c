"""Workload identity (IRSA): the cluster's OIDC issuer registered with IAM, and the gateway's role, which
only the gateway's Kubernetes service account can assume. Storage grants are attached to this role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.account import role_path
from infra.aws.context import AwsContext
from infra.aws.iam import policy_document
from infra.cloud import Part, PartComponent
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

STS_AUDIENCE = "sts.amazonaws.com"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
MAX_SESSION_SECONDS = 3600


def service_account_trust_policy(provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """Trust for exactly one service account (`system:serviceaccount:<ns>:<sa>`) of this cluster
    ("IAM roles for service accounts", https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html)."""
    issuer = issuer_url.removeprefix("https://")
    if not issuer:
        raise ValueError("the EKS cluster reported no OIDC issuer")
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": STS_AUDIENCE,
                    }
                },
            }
        ]
    )


def gateway_trust_policy(provider_arn: str, issuer_url: str) -> str:
    return service_account_trust_policy(provider_arn, issuer_url, NAMESPACE, SERVICE_ACCOUNT)


def service_account_role(
    actx: AwsContext,
    part: str,
    provider: aws.iam.OpenIdConnectProvider,
    issuer: pulumi.Input[str],
    service_account: tuple[str, str],
    description: str,
) -> aws.iam.Role:
    """An IAM role that only one Kubernetes service account (namespace, name) of the cluster can assume."""
    namespace, name = service_account
    return aws.iam.Role(
        actx.name(part),
        name=actx.name(part),
        path=role_path(actx.tenant),
        description=description,
        assume_role_policy=pulumi.Output.all(provider.arn, issuer).apply(
            lambda v: service_account_trust_policy(v[0], v[1], namespace, name)
        ),
        max_session_duration=MAX_SESSION_SECONDS,
        tags=actx.tags(),
        opts=actx.opts(),
    )


@dataclass(frozen=True)
class IdentityArgs:
    oidc_issuer: pulumi.Input[str]  # the cluster's issuer URL


class GatewayIdentity(PartComponent):
    part = Part.IDENTITY
    oidc_provider: aws.iam.OpenIdConnectProvider  # later service-account roles (the autoscaler's) trust it too
    oidc_issuer: pulumi.Input[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, scope: AwsContext, args: IdentityArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        self.oidc_issuer = args.oidc_issuer
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            actx.name("eks-oidc"),
            url=args.oidc_issuer,
            client_id_lists=[STS_AUDIENCE],
            tags=actx.tags(),
            opts=actx.opts(),
        )
        role = service_account_role(
            actx,
            "gateway",
            self.oidc_provider,
            args.oidc_issuer,
            (NAMESPACE, SERVICE_ACCOUNT),
            f"Enclave gateway of tenant {actx.tenant} (IRSA)",
        )
        self.role_arn, self.role_name = role.arn, role.name
        self.publish(roleArn=self.role_arn, oidcProviderArn=self.oidc_provider.arn)
