"""How clients reach the gateway. The Kubernetes service's load balancer (an NLB the cloud provider
creates from the annotations returned here) terminates TLS on 443 with the tenant's ACM certificate;
`loadBalancerSourceRanges` (set by the workload) is the IP allow list. Optionally a PrivateLink endpoint
service (manual acceptance, explicit consumer principals) in front of an internal TLS NLB, and VPC peering
with the customer's network."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.context import AwsContext
from infra.aws.iam import account_root, require_account_id
from infra.cloud import Part, PartComponent
from infra.spec import Peering

HTTPS = 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The gateway service's node port; the PrivateLink NLB forwards to it on every node.
PRIVATE_LINK_NODE_PORT = 30443
_LB = "service.beta.kubernetes.io/aws-load-balancer-"
# pulumi-kubernetes waits up to 10 minutes for a LoadBalancer Service's address (the `Service` resource's
# documented await conditions) unless the Service carries `pulumi.com/skipAwait: "true"` (pulumi-kubernetes
# PR #417, "Allow awaiters to be skipped by setting an annotation"). While the certificate waits for manual
# DNS validation the NLB cannot open its TLS listener, so `pulumi up` must not wait for it.
SKIP_AWAIT = "pulumi.com/skipAwait"
VALIDATION_RECORD_TTL = 300
# ACM retries DNS validation for up to 72 hours (DescribeCertificate `Status`); a `pulumi up` told the records
# are in place waits this long for the certificate to be issued, then fails with the provider's error.
VALIDATION_TIMEOUT = "45m"
PENDING_STEP = (
    "create the DNS records in certificateValidation, then set enclave:tenant acm_certificate_validated: true "
    "and run pulumi up again: the TLS listeners are created once ACM has issued the certificate"
)
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class ConnectivityArgs:
    hostname: str  # the gateway's DNS name: the ACM certificate's one name
    public_ingress: bool
    route53_zone_id: str | None  # the hosted zone holding `hostname`: the program writes the validation record
    certificate_validated: bool  # without a zone: the operator says the validation records are in place
    private_link_consumers: tuple[str, ...]  # non-empty: a PrivateLink endpoint service for these principals
    peering: Peering | None
    deletion_protection: bool
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    private_cidrs: tuple[str, ...]
    private_route_table_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    autoscaling_group_name: pulumi.Input[str]


def consumer_principals(consumers: Sequence[str]) -> list[str]:
    """PrivateLink consumers as IAM principals: an account id means the account's root principal."""
    principals = []
    for consumer in consumers:
        if re.fullmatch(r"\d{12}", consumer):
            principals.append(account_root(consumer))
        elif _PRINCIPAL_ARN.match(consumer):
            principals.append(consumer)
        else:
            raise ValueError(
                f"private_link_consumers entry {consumer!r} must be a 12-digit AWS account id or an IAM principal "
                "ARN (arn:aws:iam::<account>:root|role/...|user/...); '*' is never allowed"
            )
    return principals


def load_balancer_annotations(
    *, certificate_arn: pulumi.Input[str], public: bool, tags: Mapping[str, str], awaited: bool = True
) -> dict[str, pulumi.Input[str]]:
    """The gateway Service's NLB: TLS on 443 with the tenant's certificate. `awaited=False` while the
    certificate is not yet issued: the Service is created but `pulumi up` does not wait for its listener."""
    annotations: dict[str, pulumi.Input[str]] = {
        f"{_LB}type": "nlb",
        f"{_LB}ssl-cert": certificate_arn,
        f"{_LB}ssl-ports": str(HTTPS),
        f"{_LB}ssl-negotiation-policy": TLS_POLICY,
        f"{_LB}backend-protocol": "tcp",
        f"{_LB}additional-resource-tags": ",".join(f"{k}={v}" for k, v in sorted(tags.items())),
    }
    if not public:
        annotations[f"{_LB}internal"] = "true"
    if not awaited:
        annotations[SKIP_AWAIT] = "true"
    return annotations


class Connectivity(PartComponent):
    part = Part.CONNECTIVITY
    load_balancer_annotations: Mapping[str, pulumi.Input[str]]
    private_link_service: pulumi.Output[str] | None
    extra_outputs: Mapping[str, pulumi.Output[str]]

    def __init__(self, scope: AwsContext, args: ConnectivityArgs) -> None:
        super().__init__(scope.ctx)
        actx = scope.within(self)
        certificate = aws.acm.Certificate(
            actx.name("tls"),
            domain_name=args.hostname,
            validation_method="DNS",
            options={"certificate_transparency_logging_preference": "ENABLED"},
            tags=actx.tags(),
            opts=actx.opts(),
        )
        extra: dict[str, pulumi.Output[str]] = {
            "certificateArn": certificate.arn,
            "certificateValidation": certificate.domain_validation_options.apply(
                lambda options: json.dumps(
                    [
                        {
                            "name": o.resource_record_name,
                            "type": o.resource_record_type,
                            "value": o.resource_record_value,
                        }
                        for o in options
                    ]
                )
            ),
        }
        issued = _issued_certificate_arn(actx, args, certificate)
        if issued is None:
            extra["certificatePendingStep"] = pulumi.Output.from_input(PENDING_STEP)
        self.load_balancer_annotations = load_balancer_annotations(
            certificate_arn=issued if issued is not None else certificate.arn,
            public=args.public_ingress,
            tags=actx.tags(),
            awaited=issued is not None,
        )
        self.private_link_service = _private_link(actx, args, issued) if args.private_link_consumers else None
        if args.peering is not None:
            extra["peeringConnectionId"] = _peering(actx, args, args.peering)
        self.extra_outputs = extra
        self.publish(
            privateLinkService=self.private_link_service,
            **{key: value for key, value in extra.items() if key != "certificateValidation"},
        )


def _issued_certificate_arn(
    actx: AwsContext, args: ConnectivityArgs, certificate: aws.acm.Certificate
) -> pulumi.Output[str] | None:
    """The certificate's ARN once ACM has issued it, for the TLS listeners; None while nobody has validated it.

    An NLB refuses a TLS listener on a certificate that is not issued (`UnsupportedCertificate`), so every
    listener takes the ARN from the `CertificateValidation`, which completes only when the certificate is
    ISSUED ("DNS validation", https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). With
    `route53_zone_id` the program writes the validation CNAME into that hosted zone itself; otherwise the
    operator creates it from the `certificateValidation` output and says so with `acm_certificate_validated`
    (a second `pulumi up`), and until then no listener waits on it."""
    if args.route53_zone_id:
        record = aws.route53.Record(
            actx.name("tls-validation"),
            zone_id=args.route53_zone_id,
            name=certificate.domain_validation_options.apply(lambda o: str(_only(o).resource_record_name)),
            type=certificate.domain_validation_options.apply(lambda o: str(_only(o).resource_record_type)),
            records=[certificate.domain_validation_options.apply(lambda o: str(_only(o).resource_record_value))],
            ttl=VALIDATION_RECORD_TTL,
            allow_overwrite=True,  # ACM uses the same CNAME for every certificate of this name in the account
            opts=actx.opts(),
        )
        fqdns: list[pulumi.Input[str]] | None = [record.fqdn]
    elif args.certificate_validated:
        fqdns = None  # the operator's records: wait for the certificate to be issued
    else:
        return None
    validation = aws.acm.CertificateValidation(
        actx.name("tls-validation"),
        certificate_arn=certificate.arn,
        validation_record_fqdns=fqdns,
        opts=actx.opts(custom_timeouts=pulumi.CustomTimeouts(create=VALIDATION_TIMEOUT)),
    )
    return validation.certificate_arn


def _only(options: Sequence[Any]) -> Any:
    """The one domain validation option: the certificate names only the gateway's hostname."""
    if len(options) != 1:
        raise ValueError(f"expected one ACM domain validation option for the gateway hostname, got {len(options)}")
    return options[0]


def _private_link(
    actx: AwsContext, args: ConnectivityArgs, certificate_arn: pulumi.Output[str] | None
) -> pulumi.Output[str]:
    """The endpoint service in front of an internal NLB; its TLS listener only once the certificate is issued
    (`certificate_arn` None: the NLB, targets and endpoint service exist, the listener comes with the step
    that validates the certificate)."""
    principals = consumer_principals(args.private_link_consumers)
    balancer = aws.lb.LoadBalancer(
        actx.name("pl"),
        name=actx.name("pl"),
        internal=True,
        load_balancer_type="network",
        subnets=list(args.private_subnet_ids),
        enable_cross_zone_load_balancing=True,
        enable_deletion_protection=args.deletion_protection,
        tags=actx.tags(),
        opts=actx.opts(),
    )
    targets = aws.lb.TargetGroup(
        actx.name("pl"),
        name=actx.name("pl"),
        port=PRIVATE_LINK_NODE_PORT,
        protocol="TCP",
        target_type="instance",
        vpc_id=args.vpc_id,
        health_check={"protocol": "TCP", "port": "traffic-port"},
        tags=actx.tags(),
        opts=actx.opts(),
    )
    if certificate_arn is not None:
        aws.lb.Listener(
            actx.name("pl-tls"),
            load_balancer_arn=balancer.arn,
            port=HTTPS,
            protocol="TLS",
            certificate_arn=certificate_arn,
            ssl_policy=TLS_POLICY,
            default_actions=[{"type": "forward", "target_group_arn": targets.arn}],
            tags=actx.tags(),
            opts=actx.opts(),
        )
    aws.autoscaling.Attachment(
        actx.name("pl-nodes"),
        autoscaling_group_name=args.autoscaling_group_name,
        lb_target_group_arn=targets.arn,
        opts=actx.opts(),
    )
    for index, cidr in enumerate(args.private_cidrs):  # the NLB's addresses live in these subnets
        aws.vpc.SecurityGroupIngressRule(
            actx.name(f"nodes-from-pl-{index}"),
            security_group_id=args.node_security_group_id,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=PRIVATE_LINK_NODE_PORT,
            to_port=PRIVATE_LINK_NODE_PORT,
            tags=actx.tags(),
            opts=actx.opts(),
        )
    service = aws.ec2.VpcEndpointService(
        actx.name("pl-service"),
        acceptance_required=True,
        network_load_balancer_arns=[balancer.arn],
        allowed_principals=principals,
        tags=actx.tags({"Name": actx.name("pl-service")}),
        opts=actx.opts(),
    )
    return service.service_name


def _peering(actx: AwsContext, args: ConnectivityArgs, peering: Peering) -> pulumi.Output[str]:
    """Requests peering (the customer accepts on their side) and routes the peer's CIDR from the private
    subnets; no security group opens to the peer by default."""
    if not _VPC_ID.match(peering.peer_network):
        raise ValueError(f"peering.peer_network must be a VPC id (vpc-...), got {peering.peer_network!r}")
    connection = aws.ec2.VpcPeeringConnection(
        actx.name("peering"),
        vpc_id=args.vpc_id,
        peer_vpc_id=peering.peer_network,
        peer_owner_id=require_account_id(peering.peer_owner, "peering.peer_owner"),
        peer_region=actx.region,
        auto_accept=False,
        tags=actx.tags({"Name": actx.name("peering")}),
        opts=actx.opts(),
    )
    for index, table in enumerate(args.private_route_table_ids):
        aws.ec2.Route(
            actx.name(f"peering-route-{index}"),
            route_table_id=table,
            destination_cidr_block=str(peering.peer_cidr),
            vpc_peering_connection_id=connection.id,
            opts=actx.opts(),
        )
    return connection.id
