"""Node autoscaling for EKS: managed node groups keep the size they are given, so the Cluster Autoscaler
runs in the cluster and resizes the node group's Auto Scaling group between its minimum and maximum (GKE and
AKS autoscale their node pools natively). "Scale cluster compute with Karpenter and Cluster Autoscaler"
(https://docs.aws.amazon.com/eks/latest/userguide/autoscaling.html); the autoscaler's AWS guide
(kubernetes/autoscaler `cluster-autoscaler/cloudprovider/aws/README.md`, "IAM Policy", "Auto-Discovery Setup").

It runs as the service account `kube-system/cluster-autoscaler` with its own IRSA role: read-only discovery
calls (which take no resource-level permission) on `*`, and the two scaling calls on the node group's own Auto
Scaling group only, as that guide recommends over unscoped ones. It finds the group by the tags EKS puts on a
managed node group's Auto Scaling group (`k8s.io/cluster-autoscaler/enabled`,
`k8s.io/cluster-autoscaler/<cluster>`; "Managed node groups",
https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.aws.context import AwsContext
from infra.aws.iam import Statement, account_of, policy_document
from infra.aws.identity import ROLE_ANNOTATION, service_account_role
from infra.aws.policy import UNSCOPED_READ_ACTIONS
from infra.cloud import Part, PartComponent

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
CHART = "cluster-autoscaler"
CHART_REPOSITORY = "https://kubernetes.github.io/autoscaler"
# The chart's templates (kubernetes/autoscaler `charts/cluster-autoscaler/Chart.yaml` at 9.43.1: appVersion
# 1.31.0); the image below overrides its default app version.
CHART_VERSION = "9.43.1"
# The autoscaler's minor version must match the cluster's Kubernetes minor version (the autoscaler README,
# "Releases": "We recommend using Cluster Autoscaler with the Kubernetes control plane version for which it was
# meant"), so the image is pinned to the cluster's (infra/aws/cluster.py KUBERNETES_VERSION 1.33).
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
IMAGE_TAG = "v1.33.0"
# Its discovery calls take no resource-level permission: exactly the actions the policy lets a statement grant on
# `Resource: "*"` (infra/aws/policy.py, with the Service Authorization Reference pages that say so).
DISCOVERY_ACTIONS = tuple(sorted(UNSCOPED_READ_ACTIONS))
SCALING_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")


def autoscaling_group_arn(region: str, account_id: str, group_name: str) -> str:
    """An Auto Scaling group's ARN with any group id: `autoScalingGroup:<uuid>:autoScalingGroupName/<name>`
    ("Actions, resources, and condition keys for Amazon EC2 Auto Scaling", resource type autoScalingGroup,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html)."""
    return f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/{group_name}"


def autoscaler_policy(region: str, node_group_arn: str, group_name: str) -> str:
    account = account_of(node_group_arn)
    statements: list[Statement] = [
        {"Sid": "DiscoverNodeGroups", "Effect": "Allow", "Action": list(DISCOVERY_ACTIONS), "Resource": "*"},
        {
            "Sid": "ScaleTheTenantsNodeGroup",
            "Effect": "Allow",
            "Action": list(SCALING_ACTIONS),
            "Resource": autoscaling_group_arn(region, account, group_name),
        },
        {
            "Sid": "DescribeTheTenantsNodeGroup",
            "Effect": "Allow",
            "Action": "eks:DescribeNodegroup",
            "Resource": node_group_arn,
        },
    ]
    return policy_document(statements)


def chart_values(cluster_name: str, region: str, role_arn: str) -> dict[str, object]:
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"repository": IMAGE, "tag": IMAGE_TAG},
        "rbac": {
            "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT, "annotations": {ROLE_ANNOTATION: role_arn}}
        },
        # Balance the zones' groups and remove the least useful node first; scale down under system pods too.
        "extraArgs": {
            "balance-similar-node-groups": "true",
            "expander": "least-waste",
            "skip-nodes-with-system-pods": "false",
        },
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
    }


@dataclass(frozen=True)
class AutoscalingArgs:
    cluster_name: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]  # resolves once the nodes have joined
    node_group_arn: pulumi.Input[str]
    autoscaling_group_name: pulumi.Input[str]
    oidc_provider: aws.iam.OpenIdConnectProvider
    oidc_issuer: pulumi.Input[str]


class ClusterAutoscaling(PartComponent):
    part = Part.AUTOSCALING
    role_arn: pulumi.Output[str]
    release: k8s.helm.v3.Release

    def __init__(self, scope: AwsContext, args: AutoscalingArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        region = actx.region
        role = service_account_role(
            actx,
            "cluster-autoscaler",
            args.oidc_provider,
            args.oidc_issuer,
            (NAMESPACE, SERVICE_ACCOUNT),
            f"Cluster Autoscaler of tenant {actx.tenant} (IRSA)",
        )
        policy = aws.iam.RolePolicy(
            actx.name("cluster-autoscaler-policy"),
            name=actx.name("cluster-autoscaler"),
            role=role.id,
            policy=pulumi.Output.all(args.node_group_arn, args.autoscaling_group_name).apply(
                lambda v: autoscaler_policy(region, v[0], v[1])
            ),
            opts=actx.opts(),
        )
        provider = k8s.Provider(
            actx.name("autoscaling-k8s"),
            kubeconfig=args.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            actx.name("cluster-autoscaler"),
            name=SERVICE_ACCOUNT,
            chart=CHART,
            version=CHART_VERSION,
            namespace=NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            values=pulumi.Output.all(args.cluster_name, role.arn).apply(lambda v: chart_values(v[0], region, v[1])),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[policy]),
        )
        self.role_arn = role.arn
        self.publish(roleArn=self.role_arn)
