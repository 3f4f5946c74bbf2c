"""Workload identity (IRSA): the cluster's OIDC issuer registered with IAM, and the gateway's role, which
only the gateway's Kubernetes service account can assume. Storage grants are attached to this role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.account import role_path
from infra.aws.cluster import Cluster
from infra.aws.context import AwsContext
from infra.aws.iam import policy_document
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

STS_AUDIENCE = "sts.amazonaws.com"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass(frozen=True)
class GatewayIdentity:
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]


def gateway_trust_policy(provider_arn: str, issuer_url: str) -> str:
    """Trust for exactly one service account (`system:serviceaccount:<ns>:<sa>`) of this cluster."""
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
                        f"{issuer}:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
                        f"{issuer}:aud": STS_AUDIENCE,
                    }
                },
            }
        ]
    )


def build_gateway_identity(actx: AwsContext, cluster: Cluster) -> GatewayIdentity:
    provider = aws.iam.OpenIdConnectProvider(
        actx.name("eks-oidc"),
        url=cluster.oidc_issuer,
        client_id_lists=[STS_AUDIENCE],
        tags=actx.tags(),
        opts=actx.opts(),
    )
    role = aws.iam.Role(
        actx.name("gateway"),
        name=actx.name("gateway"),
        path=role_path(actx.spec.name),
        description=f"Enclave gateway of tenant {actx.spec.name} (IRSA)",
        assume_role_policy=pulumi.Output.all(provider.arn, cluster.oidc_issuer).apply(
            lambda v: gateway_trust_policy(v[0], v[1])
        ),
        max_session_duration=3600,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    return GatewayIdentity(role_arn=role.arn, role_name=role.name)
