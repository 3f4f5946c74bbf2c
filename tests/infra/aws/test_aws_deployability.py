"""What a real `pulumi up` needs on AWS that Pulumi's mocks never check (issue 10 sections 1 and 2): the order a
control plane needs (key policy before every key user, certificate validation before the TLS listeners, the CNI's
network policy agent before the nodes and the workload), and the prerequisites the program creates itself (the Auto
Scaling service-linked role, the Route 53 validation record, the operators' way to the private API), plus the
account boundary. Each test fails when the fix it pins is undone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from aws_harness import CONFIG, Built, make_spec

from infra.aws.cluster import VPC_CNI_CONFIGURATION
from infra.clouds import registration
from infra.mockrun import MockedResource, MockPlace, MockRun, assert_ordered
from infra.policy.engine import context_for, evaluate, view_of
from infra.preview import preview_spec
from infra.spec import TenantSpec
from tests.infra.cloud_harness import run_build

Build = Callable[..., Built]
ZONE = "Z0123456789ABCDEFGHIJ"
PRIVATE_LINK = {"private_link": True, "private_link_consumers": ["210987654321"]}
SKIP_AWAIT = "lb:pulumi.com/skipAwait"
SSL_CERT = "lb:service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
KEY_USERS = [
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:kms/alias:Alias",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:eks/cluster:Cluster",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:cloudtrail/trail:Trail",
]


def _ordered(b: Built, before: MockedResource, afters: list[MockedResource]) -> None:
    assert afters
    for after in afters:
        assert_ordered(b.run, before=before, after=after)


@pytest.mark.parametrize("consumer", KEY_USERS)
def test_the_key_policy_comes_before_every_user_of_the_key(built: Build, consumer: str) -> None:
    """CreateLogGroup, CreateCluster, CreateTrail, RDS and ElastiCache check that the key policy admits them;
    created in parallel with PutKeyPolicy they race it."""
    b = built()
    _ordered(b, b.one("aws:kms/keyPolicy:KeyPolicy"), b.all(consumer))


def test_every_log_group_and_both_buckets_wait_for_the_key_policy(built: Build) -> None:
    b = built()
    assert {g.name for g in b.all("aws:cloudwatch/logGroup:LogGroup")} == {
        "acme-vpc-flow-logs",
        "acme-eks-logs",
        "acme-db-audit-logs",
        "acme-db-error-logs",
        "acme-db-slowquery-logs",
    }
    sse = b.all("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert {r.name for r in sse} == {"acme-data-encryption", "acme-audit-encryption"}


def test_the_autoscaling_role_exists_before_the_key_policy_names_it(built: Build) -> None:
    b = built()
    role = b.one("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com"
    policy = b.one("aws:kms/keyPolicy:KeyPolicy")
    assert_ordered(b.run, before=role, after=policy)
    named = {
        p
        for s in json.loads(policy.inputs["policy"])["Statement"]
        for p in [s["Principal"].get("AWS")]
        if isinstance(s["Principal"], dict) and p and p.endswith("AWSServiceRoleForAutoScaling")
    }
    assert named == {role.outputs["arn"]}


def test_the_key_policy_admits_exactly_this_stacks_trail_and_log_groups(built: Build) -> None:
    b = built()
    statements = json.loads(b.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"])["Statement"]
    trail = b.one("aws:cloudtrail/trail:Trail").outputs["arn"]
    for s in statements:
        if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}:
            assert s["Condition"]["StringEquals"] == {"aws:SourceArn": trail}
    (logs,) = [s for s in statements if s["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}]
    groups = {g.outputs["arn"] for g in b.all("aws:cloudwatch/logGroup:LogGroup")}
    assert set(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == groups


# ---------------------------------------------------------------------------------------- audit trail and RDS


def test_the_trail_waits_for_the_object_lock_configuration(built: Build) -> None:
    """Object Lock's default retention covers objects written after it is set: a trail delivering before the
    configuration exists leaves its first log files unprotected (S3 "Configuring S3 Object Lock")."""
    b = built()
    lock = b.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    trail = b.one("aws:cloudtrail/trail:Trail")
    assert lock.inputs["bucket"] == trail.inputs["s3BucketName"]
    assert_ordered(b.run, before=lock, after=trail)
    assert trail.inputs["isMultiRegionTrail"] is True


def test_rds_mysql_keeps_an_audit_log_in_an_encrypted_log_group(built: Build) -> None:
    """The MariaDB Audit Plugin (RDS "Options for MySQL DB instances": every MySQL 8.4 version) records
    connections, DDL and DCL; the audit log is exported to a log group the program made first, encrypted with the
    tenant key and admitted by the key policy."""
    b = built()
    db = b.one("aws:rds/instance:Instance")
    options = b.one("aws:rds/optionGroup:OptionGroup")
    assert (options.inputs["engineName"], options.inputs["majorEngineVersion"]) == ("mysql", "8.4")
    assert db.inputs["engineVersion"].startswith(options.inputs["majorEngineVersion"])
    (plugin,) = options.inputs["options"]
    assert plugin["optionName"] == "MARIADB_AUDIT_PLUGIN"
    assert plugin["optionSettings"] == [{"name": "SERVER_AUDIT_EVENTS", "value": "CONNECT,QUERY_DDL,QUERY_DCL"}]
    assert db.inputs["optionGroupName"] == options.outputs["name"]
    assert "audit" in db.inputs["enabledCloudwatchLogsExports"]
    key = b.one("aws:kms/key:Key").outputs["arn"]
    admitted = next(
        s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
        for s in json.loads(b.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"])["Statement"]
        if s["Sid"] == "CloudWatchLogsEncryptsThisStacksLogGroups"
    )
    for kind in db.inputs["enabledCloudwatchLogsExports"]:
        group = b.named("aws:cloudwatch/logGroup:LogGroup", f"acme-db-{kind}-logs")
        assert group.inputs["name"] == f"/aws/rds/instance/{db.inputs['identifier']}/{kind}"
        assert group.inputs["kmsKeyId"] == key
        assert group.outputs["arn"] in admitted
        assert_ordered(b.run, before=group, after=db)


# ---------------------------------------------------------------------------------------------- the nodes


def test_the_nodes_wait_for_their_nat_routes_and_egress_rule(built: Build) -> None:
    """A node without a route to the NAT gateway or an egress rule cannot reach the API server or ECR, and the
    node group fails with NodeCreationFailure ("Amazon EKS security group requirements")."""
    b = built()
    nodes = b.one("aws:eks/nodeGroup:NodeGroup")
    routes = [r for r in b.all("aws:ec2/route:Route") if r.inputs.get("natGatewayId")]
    associations = [r for r in b.all("aws:ec2/routeTableAssociation:RouteTableAssociation") if "private" in r.name]
    assert len(routes) == len(associations) == 3
    _ordered(b, b.named("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "acme-nodes-egress"), [nodes])
    for route in [*routes, *associations]:
        assert_ordered(b.run, before=route, after=nodes)


def test_the_cluster_autoscaler_scales_the_node_group(built: Build) -> None:
    """EKS does not resize a managed node group by itself: the Cluster Autoscaler does, with an IRSA role that
    may scale only this node group's Auto Scaling group, and the program stops resetting the desired size."""
    b = built(size="medium")
    nodes = b.one("aws:eks/nodeGroup:NodeGroup")
    assert nodes.ignore_changes == ("scalingConfig.desiredSize",)
    assert nodes.inputs["scalingConfig"]["minSize"] < nodes.inputs["scalingConfig"]["maxSize"]
    release = b.one("kubernetes:helm.sh/v3:Release")
    assert (release.inputs["chart"], release.inputs["namespace"]) == ("cluster-autoscaler", "kube-system")
    assert release.inputs["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    values = release.inputs["values"]
    role = b.named("aws:iam/role:Role", "acme-cluster-autoscaler")
    assert values["autoDiscovery"]["clusterName"] == b.one("aws:eks/cluster:Cluster").outputs["name"]
    assert values["awsRegion"] == "eu-west-1"
    assert values["image"]["tag"].startswith("v1.33.")  # the cluster's minor version
    account = values["rbac"]["serviceAccount"]
    assert account["name"] == "cluster-autoscaler"
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:cluster-autoscaler" in trust.values()
    statements = json.loads(b.named("aws:iam/rolePolicy:RolePolicy", "acme-cluster-autoscaler-policy").inputs["policy"])
    scaling = next(s for s in statements["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    group = nodes.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    assert scaling["Resource"].endswith(f":autoScalingGroupName/{group}")
    provider = next(p for p in b.all("pulumi:providers:kubernetes") if p.name == "acme-autoscaling-k8s")
    assert_ordered(b.run, before=nodes, after=provider)


# ------------------------------------------------------------------------------------------- gateway egress


def test_the_gateway_reaches_sts_and_s3_through_interface_endpoints(built: Build) -> None:
    b = built()
    endpoints = {e.inputs["serviceName"]: e for e in b.all("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert set(endpoints) == {"com.amazonaws.eu-west-1.sts", "com.amazonaws.eu-west-1.s3"}
    private = {s.outputs["id"] for s in b.all("aws:ec2/subnet:Subnet") if "private" in s.name}
    for endpoint in endpoints.values():
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == private


def test_a_customer_key_has_no_policy_to_wait_for(built: Build) -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    b = built(customer_managed_key=key)
    assert not b.all("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert {g.inputs["kmsKeyId"] for g in b.all("aws:cloudwatch/logGroup:LogGroup")} == {key}


# ------------------------------------------------------------------------------------------- the cluster API


def test_operator_cidrs_reach_the_private_api_on_443_only(built: Build) -> None:
    b = built(operator_cidrs=["10.99.0.0/16", "172.16.5.0/24"])
    control_plane = b.named("aws:ec2/securityGroup:SecurityGroup", "acme-eks-control-plane")
    rules = [
        r
        for r in b.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("securityGroupId") == control_plane.outputs["id"] and r.inputs.get("cidrIpv4")
    ]
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == ["10.99.0.0/16", "172.16.5.0/24"]
    assert {(r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {("tcp", 443, 443)}
    spec = make_spec(operator_cidrs=["10.99.0.0/16", "172.16.5.0/24"])
    aws_views = [view_of(r) for r in b.run.resources if r.type.startswith(("aws:", "pulumi:providers:aws"))]
    assert evaluate(aws_views, context_for(spec)) == []


def test_without_operator_cidrs_the_api_admits_only_the_nodes(built: Build) -> None:
    b = built()
    assert not [
        r for r in b.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "from-operators" in r.name
    ]


# ------------------------------------------------------------------------------------ network policy (VPC CNI)


def test_the_vpc_cni_enforces_network_policies_before_nodes_join(built: Build) -> None:
    b = built()
    addon = b.one("aws:eks/addon:Addon")
    assert addon.inputs["addonName"] == "vpc-cni"
    assert json.loads(addon.inputs["configurationValues"]) == VPC_CNI_CONFIGURATION == {"enableNetworkPolicy": "true"}
    assert addon.inputs["clusterName"] == b.one("aws:eks/cluster:Cluster").outputs["name"]
    assert_ordered(b.run, before=addon, after=b.one("aws:eks/nodeGroup:NodeGroup"))


def test_the_workload_waits_for_enforcement() -> None:
    """Every Kubernetes resource goes through the workload's provider, whose kubeconfig resolves only once the
    CNI add-on and the nodes are in place. (The mock run records no provider edges, so the test follows the
    provider itself.)"""
    report = preview_spec(make_spec(aws_account_id="210987654321"))
    assert report.passed, report.violations
    run = _as_run(report.resources)
    provider = run.named("pulumi:providers:kubernetes", "acme-k8s")
    assert_ordered(run, before=run.one("aws:eks/addon:Addon"), after=provider)
    assert_ordered(run, before=run.one("aws:eks/nodeGroup:NodeGroup"), after=provider)


def _as_run(resources: Iterable[MockedResource]) -> MockRun:
    return MockRun(resources=list(resources))


# -------------------------------------------------------------------------------------------- the certificate


def test_route53_validates_the_certificate_before_any_listener(built: Build) -> None:
    b = built(route53_zone_id=ZONE, connectivity=PRIVATE_LINK)
    certificate = b.one("aws:acm/certificate:Certificate")
    option = certificate.outputs["domainValidationOptions"][0]
    record = b.one("aws:route53/record:Record")
    assert record.inputs["zoneId"] == ZONE
    assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
        option["resourceRecordName"],
        option["resourceRecordType"],
        [option["resourceRecordValue"]],
    )
    validation = b.one("aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]]
    assert_ordered(b.run, before=record, after=validation)
    _ordered(b, validation, b.all("aws:lb/listener:Listener"))
    assert b.resolved[SSL_CERT] == validation.outputs["certificateArn"]
    assert SKIP_AWAIT not in b.resolved
    assert "extra:certificatePendingStep" not in b.resolved


def test_the_gateway_service_waits_for_the_validation() -> None:
    report = preview_spec(make_spec(route53_zone_id=ZONE))
    assert report.passed, report.violations
    run = _as_run(report.resources)
    validation = run.one("aws:acm/certificateValidation:CertificateValidation")
    (service,) = [s for s in run.of_type("kubernetes:core/v1:Service") if s.inputs["spec"]["type"] == "LoadBalancer"]
    assert_ordered(run, before=validation, after=service)


def test_without_a_zone_nothing_waits_on_the_manual_step(built: Build) -> None:
    """First `pulumi up`: the certificate and its records (an output) exist; no validation resource, no TLS
    listener of the program's own, and the gateway Service is not awaited."""
    b = built(connectivity=PRIVATE_LINK)
    assert not b.all("aws:acm/certificateValidation:CertificateValidation")
    assert not b.all("aws:route53/record:Record")
    assert not b.all("aws:lb/listener:Listener")
    assert b.one("aws:lb/targetGroup:TargetGroup")  # everything else of PrivateLink is built
    assert b.resolved[SKIP_AWAIT] == "true"
    assert "acm_certificate_validated" in b.resolved["extra:certificatePendingStep"]
    records = json.loads(b.resolved["extra:certificateValidation"])
    assert records and records[0]["type"] == "CNAME"


def test_once_the_operator_validated_the_listeners_follow_the_validation(built: Build) -> None:
    b = built(connectivity=PRIVATE_LINK, acm_certificate_validated=True)
    validation = b.one("aws:acm/certificateValidation:CertificateValidation")
    assert not validation.inputs.get("validationRecordFqdns")
    assert not b.all("aws:route53/record:Record")
    _ordered(b, validation, b.all("aws:lb/listener:Listener"))
    assert b.resolved[SSL_CERT] == validation.outputs["certificateArn"]
    assert SKIP_AWAIT not in b.resolved


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"route53_zone_id": ZONE, "acm_certificate_validated": True}, "writes the validation record itself"),
        ({"route53_zone_id": "not-a-zone"}, "route53_zone_id"),
    ],
)
def test_certificate_settings_are_checked(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_spec(**overrides)


def test_certificate_validation_is_an_aws_setting() -> None:
    base = {"name": "acme", "cloud": "gcp", "region": "europe-west1", "network_cidr": "10.20.0.0/16"}
    with pytest.raises(ValueError, match="acm_certificate_validated is only for AWS"):
        TenantSpec.model_validate(
            {**base, "hostname": "a.example.com", "gcp_project": "acme-prod-123", "acm_certificate_validated": True}
        )


# -------------------------------------------------------------------------------------------- the account


def test_the_provider_only_accepts_the_specs_account(built: Build) -> None:
    b = built(aws_account_id="210987654321")
    allowed = b.one("pulumi:providers:aws").inputs["allowedAccountIds"]
    assert json.loads(allowed) == ["210987654321"]  # provider inputs reach the engine JSON-encoded


def test_every_role_lives_under_the_tenants_path(built: Build) -> None:
    b = built()
    roles = b.all("aws:iam/role:Role")
    assert roles and {r.inputs["path"] for r in roles} == {"/enclave/acme/"}


def _build_in_account_holding(role_arns: list[str]) -> Built:
    spec = make_spec(aws_account_id="210987654321")
    fakers, invokes = registration(spec.cloud).mock_outputs()

    def roles(place: MockPlace, _: str, __: str, args: Any) -> dict[str, Any]:
        assert args.get("pathPrefix") == "/enclave/"
        return {"id": place.account, "arns": role_arns, "names": [a.rsplit("/", 1)[1] for a in role_arns]}

    run, _ = run_build(
        spec,
        registration(spec.cloud).module().build,
        fakers=fakers,
        invokes={**invokes, "aws:iam/getRoles:getRoles": roles},
        config=CONFIG,
    )
    return Built(run, {})


def test_an_account_holding_another_tenant_is_refused() -> None:
    with pytest.raises(Exception, match="already holds Enclave tenant globex"):
        _build_in_account_holding(["arn:aws:iam::210987654321:role/enclave/globex/globex-gateway"])


def test_the_tenants_own_roles_do_not_count_as_another_tenant() -> None:
    b = _build_in_account_holding(["arn:aws:iam::210987654321:role/enclave/acme/acme-gateway"])
    assert b.run.of_type("aws:eks/cluster:Cluster")
