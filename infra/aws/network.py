"""The tenant's own VPC: private subnets per zone with NAT egress, small public subnets for NAT and the
ingress load balancer only, a locked-down default security group, and flow logs to an encrypted log group."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.account import role_path
from infra.aws.context import AwsContext
from infra.aws.iam import account_id_output, policy_document, service_trust
from infra.aws.keys import Keys
from infra.aws.names import cluster_name, flow_log_group_name
from infra.aws.subnets import ZoneSubnets, plan_subnets

LOG_RETENTION_DAYS = 365
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Network:
    vpc_id: pulumi.Output[str]
    cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_cidrs: tuple[str, ...]
    private_route_table_ids: list[pulumi.Output[str]]
    account_id: pulumi.Output[str]  # the account the stack deploys into, read off the flow-log role's ARN


def build_network(actx: AwsContext, keys: Keys) -> Network:
    spec = actx.spec
    plan = plan_subnets(spec.network_cidr, spec.zones)
    vpc = aws.ec2.Vpc(
        actx.name("vpc"),
        cidr_block=str(spec.network_cidr),
        enable_dns_support=True,
        enable_dns_hostnames=True,
        tags=actx.tags({"Name": actx.name("vpc")}),
        opts=actx.opts(),
    )
    aws.ec2.DefaultSecurityGroup(  # no rules: nothing may use the default group by accident
        actx.name("default-sg"), vpc_id=vpc.id, ingress=[], egress=[], tags=actx.tags(), opts=actx.opts()
    )
    igw = aws.ec2.InternetGateway(actx.name("igw"), vpc_id=vpc.id, tags=actx.tags(), opts=actx.opts())
    public_rt = aws.ec2.RouteTable(actx.name("public-rt"), vpc_id=vpc.id, tags=actx.tags(), opts=actx.opts())
    aws.ec2.Route(
        actx.name("public-default"),
        route_table_id=public_rt.id,
        destination_cidr_block=ANYWHERE,
        gateway_id=igw.id,
        opts=actx.opts(),
    )
    private_ids, public_ids, private_rts = [], [], []
    for zone in plan:
        public_id, private_id, private_rt = _zone(actx, vpc, zone, public_rt)
        public_ids.append(public_id)
        private_ids.append(private_id)
        private_rts.append(private_rt)
    return Network(
        vpc_id=vpc.id,
        cidr=str(spec.network_cidr),
        private_subnet_ids=private_ids,
        public_subnet_ids=public_ids,
        private_cidrs=tuple(str(z.private) for z in plan),
        private_route_table_ids=private_rts,
        account_id=_flow_logs(actx, vpc, keys),
    )


def _zone(
    actx: AwsContext, vpc: aws.ec2.Vpc, zone: ZoneSubnets, public_rt: aws.ec2.RouteTable
) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
    """One zone: a public subnet with its NAT gateway, a private subnet routing egress through it."""
    suffix = zone.zone[-1]
    cluster_tag = {f"kubernetes.io/cluster/{cluster_name(actx)}": "shared"}
    public = aws.ec2.Subnet(
        actx.name(f"public-{suffix}"),
        vpc_id=vpc.id,
        availability_zone=zone.zone,
        cidr_block=str(zone.public),
        map_public_ip_on_launch=False,
        tags=actx.tags({**cluster_tag, "kubernetes.io/role/elb": "1", "Name": actx.name(f"public-{suffix}")}),
        opts=actx.opts(),
    )
    aws.ec2.RouteTableAssociation(
        actx.name(f"public-{suffix}-rta"), subnet_id=public.id, route_table_id=public_rt.id, opts=actx.opts()
    )
    eip = aws.ec2.Eip(actx.name(f"nat-{suffix}-ip"), domain="vpc", tags=actx.tags(), opts=actx.opts())
    nat = aws.ec2.NatGateway(
        actx.name(f"nat-{suffix}"), allocation_id=eip.id, subnet_id=public.id, tags=actx.tags(), opts=actx.opts()
    )
    private = aws.ec2.Subnet(
        actx.name(f"private-{suffix}"),
        vpc_id=vpc.id,
        availability_zone=zone.zone,
        cidr_block=str(zone.private),
        map_public_ip_on_launch=False,
        tags=actx.tags({**cluster_tag, "kubernetes.io/role/internal-elb": "1", "Name": actx.name(f"private-{suffix}")}),
        opts=actx.opts(),
    )
    private_rt = aws.ec2.RouteTable(
        actx.name(f"private-{suffix}-rt"), vpc_id=vpc.id, tags=actx.tags(), opts=actx.opts()
    )
    aws.ec2.Route(
        actx.name(f"private-{suffix}-egress"),
        route_table_id=private_rt.id,
        destination_cidr_block=ANYWHERE,
        nat_gateway_id=nat.id,
        opts=actx.opts(),
    )
    aws.ec2.RouteTableAssociation(
        actx.name(f"private-{suffix}-rta"), subnet_id=private.id, route_table_id=private_rt.id, opts=actx.opts()
    )
    return public.id, private.id, private_rt.id


def _flow_logs(actx: AwsContext, vpc: aws.ec2.Vpc, keys: Keys) -> pulumi.Output[str]:
    """All VPC traffic metadata into a KMS-encrypted log group; returns the account id (see Network)."""
    log_group = aws.cloudwatch.LogGroup(
        actx.name("vpc-flow-logs"),
        name=flow_log_group_name(actx),
        kms_key_id=keys.key_arn,
        retention_in_days=LOG_RETENTION_DAYS,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    role = aws.iam.Role(
        actx.name("flow-logs"),
        name=actx.name("flow-logs"),
        path=role_path(actx.spec.name),
        assume_role_policy=service_trust("vpc-flow-logs.amazonaws.com"),
        tags=actx.tags(),
        opts=actx.opts(),
    )
    aws.iam.RolePolicy(
        actx.name("flow-logs-policy"),
        name=actx.name("flow-logs"),
        role=role.id,
        policy=log_group.arn.apply(
            lambda arn: policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    }
                ]
            )
        ),
        opts=actx.opts(),
    )
    aws.ec2.FlowLog(
        actx.name("vpc-flow-log"),
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    return account_id_output(role.arn)
