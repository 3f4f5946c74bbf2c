"""The tenant's own VPC: private subnets per zone with NAT egress, small public subnets for NAT and the
ingress load balancer only, a locked-down default security group, flow logs to an encrypted log group, and
interface endpoints for the AWS APIs the gateway calls, so those calls never leave the VPC."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.account import role_path
from infra.aws.context import AwsContext
from infra.aws.iam import account_id_output, policy_document, service_trust
from infra.aws.subnets import ZoneSubnets, plan_subnets
from infra.cloud import Part, PartComponent

LOG_RETENTION_DAYS = 365
ANYWHERE = "0.0.0.0/0"
HTTPS = 443
# The AWS APIs the gateway calls: STS (AssumeRoleWithWebIdentity for its IRSA role, AssumeRole into a BYOB
# customer's role) and S3 (the storage probes). Interface endpoints with private DNS answer the services'
# regional names with addresses in the private subnets ("Access an AWS service using an interface VPC
# endpoint", https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html; STS:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_sts_vpce.html; S3 "AWS PrivateLink for
# Amazon S3", https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html), so
# the gateway's NetworkPolicy admits 443 to those subnets only, not to any host.
GATEWAY_API_SERVICES = ("sts", "s3")


@dataclass(frozen=True)
class NetworkArgs:
    cidr: ipaddress.IPv4Network
    zones: tuple[str, ...]
    cluster_name: str  # subnets carry `kubernetes.io/cluster/<name>` for the load balancer controller
    key_arn: pulumi.Input[str]  # flow logs are encrypted with the tenant key
    flow_log_group_name: str
    api_services: tuple[str, ...] = GATEWAY_API_SERVICES


class Network(PartComponent):
    part = Part.NETWORK
    vpc_id: pulumi.Output[str]
    cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_cidrs: tuple[str, ...]
    private_route_table_ids: list[pulumi.Output[str]]
    egress_routes: tuple[pulumi.Resource, ...]  # private subnets' NAT routes: nodes boot only once they exist
    api_endpoints: tuple[aws.ec2.VpcEndpoint, ...]
    account_id: pulumi.Output[str]  # the account the stack deploys into, read off the flow-log role's ARN

    def __init__(self, scope: AwsContext, args: NetworkArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        plan = plan_subnets(args.cidr, args.zones)
        vpc = aws.ec2.Vpc(
            actx.name("vpc"),
            cidr_block=str(args.cidr),
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
        zones = [_Zone(actx, vpc, zone, public_rt, args.cluster_name) for zone in plan]
        self.vpc_id = vpc.id
        self.cidr = str(args.cidr)
        self.private_subnet_ids = [z.private_id for z in zones]
        self.public_subnet_ids = [z.public_id for z in zones]
        self.private_cidrs = tuple(str(z.private) for z in plan)
        self.private_route_table_ids = [z.private_route_table_id for z in zones]
        self.egress_routes = tuple(r for z in zones for r in z.egress)
        self.api_endpoints = self._api_endpoints(actx, vpc, args.api_services)
        self.account_id = _flow_logs(actx, vpc, args)
        self.publish(
            vpcId=self.vpc_id,
            privateSubnetIds=self.private_subnet_ids,
            publicSubnetIds=self.public_subnet_ids,
            apiEndpointIds=[e.id for e in self.api_endpoints],
        )

    def _api_endpoints(
        self, actx: AwsContext, vpc: aws.ec2.Vpc, services: tuple[str, ...]
    ) -> tuple[aws.ec2.VpcEndpoint, ...]:
        """Interface endpoints in every private subnet, behind a group admitting 443 from those subnets."""
        group = aws.ec2.SecurityGroup(
            actx.name("api-endpoints"),
            name=actx.name("api-endpoints"),
            description="AWS API interface endpoints: HTTPS from the tenant's private subnets",
            vpc_id=vpc.id,
            tags=actx.tags(),
            opts=actx.opts(),
        )
        for index, cidr in enumerate(self.private_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                actx.name(f"api-endpoints-from-private-{index}"),
                security_group_id=group.id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                tags=actx.tags(),
                opts=actx.opts(),
            )
        return tuple(
            aws.ec2.VpcEndpoint(
                actx.name(f"{service}-endpoint"),
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{actx.region}.{service}",
                vpc_endpoint_type="Interface",
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[group.id],
                private_dns_enabled=True,
                tags=actx.tags({"Name": actx.name(f"{service}-endpoint")}),
                opts=actx.opts(),
            )
            for service in services
        )


class _Zone:
    """One zone: a public subnet with its NAT gateway, a private subnet routing egress through it."""

    def __init__(
        self, actx: AwsContext, vpc: aws.ec2.Vpc, zone: ZoneSubnets, public_rt: aws.ec2.RouteTable, cluster: str
    ) -> None:
        suffix = zone.zone[-1]
        cluster_tag = {f"kubernetes.io/cluster/{cluster}": "shared"}
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
            tags=actx.tags(
                {**cluster_tag, "kubernetes.io/role/internal-elb": "1", "Name": actx.name(f"private-{suffix}")}
            ),
            opts=actx.opts(),
        )
        private_rt = aws.ec2.RouteTable(
            actx.name(f"private-{suffix}-rt"), vpc_id=vpc.id, tags=actx.tags(), opts=actx.opts()
        )
        route = aws.ec2.Route(
            actx.name(f"private-{suffix}-egress"),
            route_table_id=private_rt.id,
            destination_cidr_block=ANYWHERE,
            nat_gateway_id=nat.id,
            opts=actx.opts(),
        )
        association = aws.ec2.RouteTableAssociation(
            actx.name(f"private-{suffix}-rta"), subnet_id=private.id, route_table_id=private_rt.id, opts=actx.opts()
        )
        self.public_id, self.private_id, self.private_route_table_id = public.id, private.id, private_rt.id
        self.egress: tuple[pulumi.Resource, ...] = (route, association)


def _flow_logs(actx: AwsContext, vpc: aws.ec2.Vpc, args: NetworkArgs) -> pulumi.Output[str]:
    """All VPC traffic metadata into a KMS-encrypted log group; returns the account id (see Network)."""
    log_group = aws.cloudwatch.LogGroup(
        actx.name("vpc-flow-logs"),
        name=args.flow_log_group_name,
        kms_key_id=args.key_arn,
        retention_in_days=LOG_RETENTION_DAYS,
        tags=actx.tags(),
        opts=actx.opts(stateful=True),
    )
    role = aws.iam.Role(
        actx.name("flow-logs"),
        name=actx.name("flow-logs"),
        path=role_path(actx.tenant),
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
