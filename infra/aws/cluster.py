"""EKS: private API endpoint only, secrets envelope-encrypted with the tenant key, every control-plane log
type on, and a managed node group sized from the preset on encrypted volumes with IMDSv2 (hop limit 1, so
pods cannot borrow the node's role and must use their own workload identity)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.account import role_path
from infra.aws.context import AwsContext
from infra.aws.iam import service_trust
from infra.aws.kubeconfig import render_kubeconfig
from infra.aws.network import LOG_RETENTION_DAYS
from infra.cloud import NodePool, Part, PartComponent

KUBERNETES_VERSION = "1.33"
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
NODE_AMI_TYPE = "AL2023_x86_64_STANDARD"
NODE_VOLUME_GB = 50
EPHEMERAL_PORTS = (1025, 65535)
HTTPS = 443
_MANAGED = "arn:aws:iam::aws:policy/"
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
# The VPC CNI enforces Kubernetes NetworkPolicies only with its network policy agent turned on: the EKS add-on's
# `enableNetworkPolicy` configuration value ("Restrict Pod network traffic with Kubernetes network policies",
# https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html; VPC CNI 1.14+ on
# Kubernetes 1.25+). Without it the workload's default-deny policies are accepted and ignored.
VPC_CNI_ADDON = "vpc-cni"
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    log_group_name: str  # where EKS writes control-plane logs: created first, encrypted and retained
    key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    egress_routes: Sequence[pulumi.Resource]  # the private subnets' NAT routes (nodes need them to join)
    operator_cidrs: tuple[str, ...]  # where the private API is reached from besides the nodes
    nodes: NodePool
    deletion_protection: bool


class Cluster(PartComponent):
    part = Part.CLUSTER
    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # secret
    oidc_issuer: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    node_group_arn: pulumi.Output[str]
    autoscaling_group_name: pulumi.Output[str]  # the node group's ASG (PrivateLink targets, the autoscaler)

    def __init__(self, scope: AwsContext, args: ClusterArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        control_plane_sg, node_sg, node_egress = _security_groups(actx, args)
        role, attachments = _role(actx, "eks-cluster", "eks.amazonaws.com", CLUSTER_POLICIES)
        log_group = aws.cloudwatch.LogGroup(  # created first so it is encrypted and retained, not EKS's default
            actx.name("eks-logs"),
            name=args.log_group_name,
            kms_key_id=args.key_arn,
            retention_in_days=LOG_RETENTION_DAYS,
            tags=actx.tags(),
            opts=actx.opts(stateful=True),
        )
        cluster = aws.eks.Cluster(
            actx.name("eks"),
            name=args.cluster_name,
            version=KUBERNETES_VERSION,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": list(args.private_subnet_ids),
                "security_group_ids": [control_plane_sg.id],
                "endpoint_private_access": True,
                "endpoint_public_access": False,
            },
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": args.key_arn}},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            deletion_protection=args.deletion_protection,
            tags=actx.tags(),
            opts=actx.opts(depends_on=[log_group, *attachments]),
        )
        network_policy = _vpc_cni(actx, cluster)
        node_group = _node_group(actx, args, cluster, node_sg, [network_policy, node_egress, *args.egress_routes])
        # The workload's Kubernetes provider takes this kubeconfig, so nothing is applied to the cluster before
        # NetworkPolicy enforcement is on and the nodes have joined.
        kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data, network_policy.arn, node_group.arn
        ).apply(lambda v: render_kubeconfig(cluster_name=v[0], endpoint=v[1], ca_data=v[2] or "", region=actx.region))
        self.name = cluster.name
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.oidc_issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer or "")  # type: ignore[index]
        self.node_security_group_id = node_sg.id
        self.node_group_arn = node_group.arn
        self.autoscaling_group_name = node_group.resources.apply(
            lambda rs: rs[0].autoscaling_groups[0].name or ""  # type: ignore[index]
        )
        self.publish(
            clusterName=self.name,
            oidcIssuer=self.oidc_issuer,
            nodeSecurityGroupId=self.node_security_group_id,
            autoscalingGroupName=self.autoscaling_group_name,
        )


def _vpc_cni(actx: AwsContext, cluster: aws.eks.Cluster) -> aws.eks.Addon:
    """The VPC CNI as a managed add-on with network policy enforcement on. EKS installs the CNI itself on a new
    cluster; OVERWRITE lets the add-on take over that installation's settings on creation."""
    return aws.eks.Addon(
        actx.name("vpc-cni"),
        cluster_name=cluster.name,
        addon_name=VPC_CNI_ADDON,
        configuration_values=json.dumps(VPC_CNI_CONFIGURATION, sort_keys=True),
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        tags=actx.tags(),
        opts=actx.opts(),
    )


def _role(
    actx: AwsContext, part: str, service: str, managed_policies: tuple[str, ...]
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """A service role with AWS-managed policies; callers depend on the attachments, not just the role."""
    role = aws.iam.Role(
        actx.name(part),
        name=actx.name(part),
        path=role_path(actx.tenant),
        assume_role_policy=service_trust(service),
        tags=actx.tags(),
        opts=actx.opts(),
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            actx.name(f"{part}-{policy}"), role=role.name, policy_arn=_MANAGED + policy, opts=actx.opts()
        )
        for policy in managed_policies
    ]
    return role, attachments


def _security_groups(
    actx: AwsContext, args: ClusterArgs
) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup, aws.vpc.SecurityGroupEgressRule]:
    """Our own control-plane and node groups, so every rule is in the program (and its policy) rather than
    in EKS defaults. The node group carries the cluster tag the cloud provider looks for when it opens the
    load balancer's listener (restricted to loadBalancerSourceRanges) to the nodes."""
    control_plane = aws.ec2.SecurityGroup(
        actx.name("eks-control-plane"),
        name=actx.name("eks-control-plane"),
        description="EKS control plane ENIs: API from the nodes and the operator CIDRs only",
        vpc_id=args.vpc_id,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    nodes = aws.ec2.SecurityGroup(
        actx.name("eks-nodes"),
        name=actx.name("eks-nodes"),
        description="EKS nodes and pods",
        vpc_id=args.vpc_id,
        tags=actx.tags({f"kubernetes.io/cluster/{args.cluster_name}": "owned"}),
        opts=actx.opts(),
    )
    low, high = EPHEMERAL_PORTS
    rules: list[tuple[str, aws.ec2.SecurityGroup, aws.ec2.SecurityGroup, str, int | None, int | None]] = [
        ("nodes-from-nodes", nodes, nodes, "-1", None, None),
        ("nodes-from-control-plane", nodes, control_plane, "tcp", low, high),
        ("nodes-https-from-control-plane", nodes, control_plane, "tcp", HTTPS, HTTPS),
        ("control-plane-https-from-nodes", control_plane, nodes, "tcp", HTTPS, HTTPS),
    ]
    for part, group, source, protocol, from_port, to_port in rules:
        aws.vpc.SecurityGroupIngressRule(
            actx.name(part),
            security_group_id=group.id,
            referenced_security_group_id=source.id,
            ip_protocol=protocol,
            from_port=from_port,
            to_port=to_port,
            tags=actx.tags(),
            opts=actx.opts(),
        )
    for index, cidr in enumerate(args.operator_cidrs):
        # Where operators and `pulumi up` reach the private API from (VPN, peering, a bastion): the endpoint is
        # private, so requests from a connected network arrive at the control-plane ENIs, which admit only what
        # this group allows ("Cluster API server endpoint", private endpoint section:
        # https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).
        aws.vpc.SecurityGroupIngressRule(
            actx.name(f"control-plane-https-from-operators-{index}"),
            security_group_id=control_plane.id,
            cidr_ipv4=str(cidr),
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description="Kubernetes API from the operators' network",
            tags=actx.tags(),
            opts=actx.opts(),
        )
    aws.vpc.SecurityGroupEgressRule(
        actx.name("control-plane-to-nodes"),
        security_group_id=control_plane.id,
        referenced_security_group_id=nodes.id,
        ip_protocol="tcp",
        from_port=low,
        to_port=high,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    # Nodes pull images, join the cluster and call AWS APIs through the NAT gateways (pods are held to their
    # NetworkPolicies on top of this). A node boots, runs its bootstrap and registers at once, so the node group
    # waits for this rule and the NAT routes ("Amazon EKS security group requirements": nodes need outbound
    # access to the cluster endpoint, ECR and the AWS APIs they call,
    # https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
    egress = aws.vpc.SecurityGroupEgressRule(
        actx.name("nodes-egress"),
        security_group_id=nodes.id,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="-1",
        tags=actx.tags(),
        opts=actx.opts(),
    )
    return control_plane, nodes, egress


def _node_group(
    actx: AwsContext,
    args: ClusterArgs,
    cluster: aws.eks.Cluster,
    node_sg: aws.ec2.SecurityGroup,
    ready: Sequence[pulumi.Resource],
) -> aws.eks.NodeGroup:
    """Nodes join once the CNI add-on is configured (no pod starts before NetworkPolicies are enforced) and once
    their subnets route to the NAT gateways and their group allows egress (`ready`): a node that boots without
    them cannot reach the API server or ECR, and the node group fails with NodeCreationFailure ("Troubleshoot
    problems with Amazon EKS clusters and nodes", nodes fail to join,
    https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting.html#worker-node-fail)."""
    role, attachments = _role(actx, "eks-nodes", "ec2.amazonaws.com", NODE_POLICIES)
    template = aws.ec2.LaunchTemplate(
        actx.name("eks-nodes"),
        name=actx.name("eks-nodes"),
        vpc_security_group_ids=[node_sg.id],
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {
                    "encrypted": "true",
                    "kms_key_id": args.key_arn,
                    "volume_size": NODE_VOLUME_GB,
                    "volume_type": "gp3",
                    "delete_on_termination": "true",
                },
            }
        ],
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        tag_specifications=[
            {"resource_type": kind, "tags": actx.tags()} for kind in ("instance", "volume", "network-interface")
        ],
        tags=actx.tags(),
        opts=actx.opts(),
    )
    return aws.eks.NodeGroup(
        actx.name("eks-nodes"),
        cluster_name=cluster.name,
        node_group_name=actx.name("nodes"),
        node_role_arn=role.arn,
        subnet_ids=list(args.private_subnet_ids),
        instance_types=[args.nodes.machine_type],
        ami_type=NODE_AMI_TYPE,
        scaling_config={
            "min_size": args.nodes.count_min,
            "desired_size": args.nodes.count_min,
            "max_size": args.nodes.count_max,
        },
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        update_config={"max_unavailable": 1},
        tags=actx.tags(),
        # The Cluster Autoscaler owns the desired size once the group runs; a later `pulumi up` must not reset it
        # ("Managed node groups": "the desired size ... changes as the Cluster Autoscaler scales",
        # https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html; the same `ignore_changes` as
        # terraform-aws-modules/eks's `eks-managed-node-group` module).
        opts=actx.opts(depends_on=[*attachments, *ready], ignore_changes=["scalingConfig.desiredSize"]),
    )


def nodes_only_security_group(
    actx: AwsContext,
    vpc_id: pulumi.Input[str],
    node_security_group_id: pulumi.Input[str],
    part: str,
    port: int,
    description: str,
) -> aws.ec2.SecurityGroup:
    """A security group for a private data service that admits the cluster's nodes on `port`, nothing else."""
    group = aws.ec2.SecurityGroup(
        actx.name(part),
        name=actx.name(part),
        description=description,
        vpc_id=vpc_id,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    aws.vpc.SecurityGroupIngressRule(
        actx.name(f"{part}-from-nodes"),
        security_group_id=group.id,
        referenced_security_group_id=node_security_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    return group
