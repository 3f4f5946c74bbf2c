"""The AWS policy: silent on the stack the module builds, and each check catches its mistake."""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi_aws
import pytest
from aws_harness import Built

from infra.aws.policy import RULES, TAGGABLE_TYPES
from infra.mockrun import MockedResource
from infra.policy.engine import context_for, evaluate, view_of
from infra.policy.model import PolicyContext, ResourceView, Rule
from tests.infra.cloud_harness import found

Build = Callable[..., Built]
CTX = PolicyContext(
    tenant="acme",
    deletion_protection=True,
    allowed_cidrs=(),
    own_cidrs=("10.20.0.0/16",),
    private_link_consumers=("210987654321",),
)


def view(r: MockedResource) -> ResourceView:
    return view_of(r)


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_default_graph_has_no_violations(built: Build, size: str) -> None:
    b = built(size=size)
    checked = set()
    for r in b.run.resources:
        for rule, by_type in RULES.checks.items():
            if check := by_type.get(r.type):
                assert found(check, view(r), CTX) == "", (rule, r.name)
                checked.add(r.type)
    assert {"aws:rds/instance:Instance", "aws:eks/cluster:Cluster", "aws:kms/key:Key"} <= checked
    from aws_harness import make_spec

    aws_views = [view(r) for r in b.run.resources if r.type.startswith(("aws:", "pulumi:providers:aws"))]
    assert evaluate(aws_views, context_for(make_spec(size=size))) == []


def test_variant_graphs_have_no_violations(built: Build) -> None:
    from aws_harness import make_spec

    variants: list[dict[str, Any]] = [
        {
            "connectivity": {
                "private_link": True,
                "private_link_consumers": ["210987654321"],
                "allowed_cidrs": ["203.0.113.0/24"],
            }
        },
        {"deletion_protection": False},
        {
            "storage": {
                "mode": "byob",
                "bucket": "customer-data",
                "customer_account": "210987654321",
                "external_id": "ext-0123456789abcdef",
            }
        },
        {"customer_managed_key": "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        {
            "connectivity": {
                "peering": {
                    "peer_network": "vpc-0a1b2c3d4e5f60718",
                    "peer_owner": "210987654321",
                    "peer_cidr": "192.168.0.0/20",
                }
            }
        },
    ]
    for overrides in variants:
        b = built(**overrides)
        views = [view(r) for r in b.run.resources if r.type.startswith("aws:")]
        assert evaluate(views, context_for(make_spec(**overrides))) == [], overrides


def test_taggable_types_are_exactly_those_taking_tags(built: Build) -> None:
    types = {r.type for r in built().run.resources if r.type.startswith("aws:")}
    types |= {
        r.type
        for r in built(connectivity={"private_link": True, "private_link_consumers": ["210987654321"]}).run.resources
    }
    for token in sorted(t for t in types if t.startswith("aws:")):
        module, cls = token.split(":")[1].split("/")[0], token.split(":")[2]
        resource = getattr(getattr(pulumi_aws, module), cls)
        takes_tags = "tags" in inspect.signature(resource._internal_init).parameters
        assert takes_tags == (token in TAGGABLE_TYPES), token


# (rule, type, logical name or None for the only one, mutation of the inputs, context)
Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        target: Any = inputs
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _drop(key: str) -> Mutation:
    return lambda inputs: inputs.pop(key, None)


def _policy(name: str, transform: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs[name])
        transform(document)
        inputs[name] = json.dumps(document)

    return mutate


def _add_statement(statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["Statement"].append(statement)


OPEN_STATEMENT = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
DB, CACHE = "aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"
EKS, KEY = "aws:eks/cluster:Cluster", "aws:kms/key:Key"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SG_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TRAIL, ROLE_POLICY = "aws:cloudtrail/trail:Trail", "aws:iam/rolePolicy:RolePolicy"

CASES: list[tuple[Rule, str, str | None, Mutation, str]] = [
    (Rule.NO_PUBLIC_DATA, DB, None, _set("publiclyAccessible", True), "publicly"),
    (Rule.NO_PUBLIC_DATA, CACHE, None, _drop("subnetGroupName"), "subnet group"),
    (Rule.NO_PUBLIC_DATA, CACHE, None, _drop("authToken"), "AUTH"),
    (
        Rule.NO_PUBLIC_DATA,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "acme-data-public-access",
        _set("restrictPublicBuckets", False),
        "restrictPublicBuckets",
    ),
    (Rule.NO_PUBLIC_DATA, "aws:s3/bucket:Bucket", "acme-data", _set("acl", "public-read"), "public-read"),
    (
        Rule.NO_PUBLIC_DATA,
        "aws:s3/bucketPolicy:BucketPolicy",
        "acme-data-policy",
        _policy("policy", _add_statement(OPEN_STATEMENT)),
        "Principal '*'",
    ),
    (Rule.NO_PUBLIC_DATA, "aws:ec2/subnet:Subnet", "acme-private-a", _set("mapPublicIpOnLaunch", True), "public IPs"),
    (Rule.ENCRYPTION_AT_REST, DB, None, _set("storageEncrypted", False), "not encrypted"),
    (Rule.ENCRYPTION_AT_REST, DB, None, _set("kmsKeyId", "alias/aws/rds"), "AWS-managed"),
    (Rule.ENCRYPTION_AT_REST, CACHE, None, _drop("kmsKeyId"), "no KMS key"),
    (Rule.ENCRYPTION_AT_REST, CACHE, None, _set("atRestEncryptionEnabled", False), "at-rest"),
    (
        Rule.ENCRYPTION_AT_REST,
        SSE,
        "acme-data-encryption",
        _set("rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "AES256"),
        "SSE-KMS",
    ),
    (Rule.ENCRYPTION_AT_REST, SSE, "acme-audit-encryption", _drop("rules"), "SSE-KMS"),
    (Rule.ENCRYPTION_AT_REST, EKS, None, _drop("encryptionConfig"), "envelope"),
    (Rule.ENCRYPTION_AT_REST, "aws:cloudtrail/trail:Trail", None, _drop("kmsKeyId"), "CloudTrail"),
    (Rule.ENCRYPTION_AT_REST, "aws:cloudwatch/logGroup:LogGroup", "acme-vpc-flow-logs", _drop("kmsKeyId"), "log group"),
    (
        Rule.ENCRYPTION_AT_REST,
        "aws:ec2/launchTemplate:LaunchTemplate",
        None,
        _set("blockDeviceMappings.0.ebs.encrypted", "false"),
        "not encrypted",
    ),
    (Rule.ENCRYPTION_AT_REST, KEY, None, _set("enableKeyRotation", False), "rotation"),
    (Rule.TLS_IN_TRANSIT, CACHE, None, _set("transitEncryptionMode", "preferred"), "plaintext"),
    (Rule.TLS_IN_TRANSIT, CACHE, None, _set("transitEncryptionEnabled", False), "TLS is off"),
    (
        Rule.TLS_IN_TRANSIT,
        "aws:rds/parameterGroup:ParameterGroup",
        None,
        _set("parameters", []),
        "require_secure_transport",
    ),
    (Rule.TLS_IN_TRANSIT, DB, None, _set("parameterGroupName", "default.mysql8.4"), "default parameter group"),
    (
        Rule.TLS_IN_TRANSIT,
        "aws:s3/bucketPolicy:BucketPolicy",
        "acme-audit-policy",
        _policy("policy", lambda d: d.update(Statement=d["Statement"][2:])),
        "SecureTransport",
    ),
    (Rule.TLS_IN_TRANSIT, "aws:lb/listener:Listener", None, _set("protocol", "TCP"), "TCP"),
    (Rule.DELETION_PROTECTION, DB, None, _set("deletionProtection", False), "deletion protection"),
    (Rule.DELETION_PROTECTION, DB, None, _set("skipFinalSnapshot", True), "final snapshot"),
    (Rule.DELETION_PROTECTION, EKS, None, _set("deletionProtection", False), "EKS deletion"),
    (Rule.DELETION_PROTECTION, KEY, None, _set("deletionWindowInDays", 7), "30 days"),
    (Rule.DELETION_PROTECTION, "aws:s3/bucket:Bucket", "acme-audit", _set("forceDestroy", True), "force_destroy"),
    (
        Rule.DELETION_PROTECTION,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        None,
        _set("rule.defaultRetention.mode", "GOVERNANCE"),
        "COMPLIANCE",
    ),
    (
        Rule.DELETION_PROTECTION,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        None,
        _set("rule.defaultRetention", {}),
        "retention",
    ),
    (Rule.PRIVATE_CLUSTER_ENDPOINT, EKS, None, _set("vpcConfig.endpointPublicAccess", True), "public"),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        EKS,
        None,
        _set("vpcConfig.endpointPrivateAccess", False),
        "private endpoint is off",
    ),
    (Rule.NO_OPEN_INGRESS, SG_IN, "acme-db-from-nodes", _set("cidrIpv4", "0.0.0.0/0"), "0.0.0.0/0"),
    (
        Rule.NO_OPEN_INGRESS,
        "aws:ec2/securityGroup:SecurityGroup",
        "acme-cache",
        _set("ingress", [{"fromPort": 6379, "cidrBlocks": ["0.0.0.0/0"]}]),
        "0.0.0.0/0",
    ),
    (
        Rule.NO_OPEN_INGRESS,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        None,
        _set("ingress", [{"fromPort": 22, "ipv6CidrBlocks": ["::/0"]}]),
        "whole internet (::/0)",
    ),
    (
        Rule.NO_OPEN_INGRESS,
        "aws:ec2/securityGroup:SecurityGroup",
        "acme-cache",
        _set("ingress", [{"fromPort": 6379, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]),
        "whole internet (0.0.0.0/0, as 0.0.0.0/1, 128.0.0.0/1)",
    ),
    (
        Rule.NO_OPEN_INGRESS,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        None,
        _set("ingress", [{"fromPort": 22, "ipv6CidrBlocks": ["::/1", "8000::/1"]}]),
        "whole internet (::/0, as ::/1, 8000::/1)",
    ),
    (Rule.NO_OPEN_INGRESS, SG_IN, "acme-db-from-nodes", _set("cidrIpv4", "10.21.0.0/16"), "10.21.0.0/16"),
    (
        Rule.PRIVATE_CLUSTER_ENDPOINT,
        EKS,
        None,
        lambda i: i["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/1"]),
        "whole internet",
    ),
    (Rule.DELETION_PROTECTION, DB, None, _drop("backupRetentionPeriod"), "backup_retention_period >= 7"),
    (Rule.DELETION_PROTECTION, DB, None, _set("backupRetentionPeriod", 1), "backup_retention_period >= 7"),
    (Rule.AUDIT_TRAIL, TRAIL, None, _drop("enableLogFileValidation"), "log file validation"),
    (Rule.AUDIT_TRAIL, TRAIL, None, _set("enableLogging", False), "logging is off"),
    (
        Rule.LEAST_PRIVILEGE,
        ROLE_POLICY,
        "acme-gateway-storage",
        _policy("policy", lambda d: d["Statement"][0].update(Action="s3:*")),
        "wildcard actions ['s3:*']",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        ROLE_POLICY,
        "acme-gateway-storage",
        _policy("policy", lambda d: d["Statement"][1].update(Resource="*")),
        "Resource '*'",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        ROLE_POLICY,
        "acme-gateway-storage",
        _policy("policy", lambda d: d["Statement"][1].update(NotAction="s3:DeleteBucket")),
        "NotAction",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "acme-eks-cluster-AmazonEKSClusterPolicy",
        _set("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        "grants administration",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "aws:iam/role:Role",
        "acme-gateway",
        _set("managedPolicyArns", ["arn:aws:iam::aws:policy/PowerUserAccess"]),
        "administrator policies",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "aws:kms/keyPolicy:KeyPolicy",
        None,
        _policy("policy", lambda d: d["Statement"][3].update(Action="kms:*")),
        "wildcard action",
    ),
    (
        Rule.LEAST_PRIVILEGE,
        "aws:s3/bucketPolicy:BucketPolicy",
        "acme-audit-policy",
        _policy("policy", lambda d: d["Statement"][3].update(Action="s3:*")),
        "wildcard actions",
    ),
    (Rule.NO_CROSS_TENANT_SHARING, DB, None, _set("dbSubnetGroupName", "globex-db"), "dbSubnetGroupName"),
    (Rule.NO_CROSS_TENANT_SHARING, "aws:kms/alias:Alias", None, _set("name", "alias/globex-key"), "not this tenant"),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:iam/role:Role",
        "acme-gateway",
        _policy("assumeRolePolicy", lambda d: d["Statement"][0].update(Principal="*")),
        "Principal '*'",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:kms/keyPolicy:KeyPolicy",
        None,
        _policy(
            "policy",
            _add_statement(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                }
            ),
        ),
        "Principal '*'",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        None,
        _set("allowedPrincipals", ["*"]),
        "every AWS principal",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        None,
        _set("allowedPrincipals", ["arn:aws:iam::*:root"]),
        "every AWS principal",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        None,
        _set("allowedPrincipals", ["arn:aws:iam::210987654321:root", "arn:aws:iam::999988887777:root"]),
        "['999988887777'], not among the spec's private_link_consumers",
    ),
    (
        Rule.NO_CROSS_TENANT_SHARING,
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        None,
        _set("acceptanceRequired", False),
        "acceptance_required",
    ),
]


@pytest.mark.parametrize(
    ("rule", "type_", "name", "mutate", "expected"),
    CASES,
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_each_check_catches_its_mistake(
    built: Build, rule: Rule, type_: str, name: str | None, mutate: Mutation, expected: str
) -> None:
    # With a Route 53 zone the certificate is validated by the program, so the private-link listener exists.
    b = built(
        connectivity={"private_link": True, "private_link_consumers": ["210987654321"]},
        route53_zone_id="Z0123456789ABCDEFGHIJ",
    )
    resource = b.named(type_, name) if name else b.one(type_)
    good = view(resource)
    check = RULES.checks[rule][type_]
    assert found(check, good, CTX) == ""
    inputs = copy.deepcopy(dict(resource.inputs))
    mutate(inputs)
    message = found(check, replace(good, inputs=inputs), CTX)
    assert expected in message, message


@pytest.mark.parametrize("type_", [DB, CACHE, KEY, "aws:s3/bucket:Bucket", "aws:cloudwatch/logGroup:LogGroup"])
def test_unprotected_stateful_resources_are_caught(built: Build, type_: str) -> None:
    resource = built().run.of_type(type_)[0]
    check = RULES.checks[Rule.DELETION_PROTECTION][type_]
    unprotected = replace(view(resource), protect=False)
    message = found(check, unprotected, CTX)
    assert "not protected" in message
    assert found(check, unprotected, replace(CTX, deletion_protection=False)) == ""


def test_operator_ranges_reach_the_cluster_api_port_only(built: Build) -> None:
    """The spec's operator_cidrs may reach 443 (the cluster API), never a data port."""
    rule = view(built().named(SG_IN, "acme-control-plane-https-from-nodes"))
    check = RULES.checks[Rule.NO_OPEN_INGRESS][SG_IN]
    operator = replace(CTX, operator_cidrs=("172.16.8.0/24",))
    from_operators = {k: v for k, v in rule.inputs.items() if k != "referencedSecurityGroupId"}
    from_operators["cidrIpv4"] = "172.16.8.0/24"
    https = replace(rule, inputs=from_operators)
    mysql = replace(rule, inputs={**from_operators, "fromPort": 3306, "toPort": 3306})
    assert found(check, https, operator) == ""
    assert found(check, https, CTX)  # not an operator range of this spec
    assert "172.16.8.0/24" in found(check, mysql, operator)


def test_every_problem_of_a_resource_is_reported_and_zero_is_zero(built: Build) -> None:
    """A check reports every problem it finds, not the first: an RDS instance with no final snapshot, backups
    off (retention 0, said as 0, not as RDS's default of 1) and deletion protection off gets three findings."""
    db = view(built().one(DB))
    careless = replace(
        db, inputs={**db.inputs, "skipFinalSnapshot": True, "backupRetentionPeriod": 0, "deletionProtection": False}
    )
    messages = list(RULES.checks[Rule.DELETION_PROTECTION][DB](careless, CTX))
    assert len(messages) == 3, messages
    assert any("keeps backups 0 day(s)" in m for m in messages)
    unset = replace(db, inputs={k: v for k, v in db.inputs.items() if k != "backupRetentionPeriod"})
    assert "the default 1 day(s)" in found(RULES.checks[Rule.DELETION_PROTECTION][DB], unset, CTX)
    open_cache = view(built().one(CACHE))
    bare = replace(open_cache, inputs={**open_cache.inputs, "subnetGroupName": None, "authToken": None})
    assert len(list(RULES.checks[Rule.NO_PUBLIC_DATA][CACHE](bare, CTX))) == 2


def test_a_trail_in_one_region_fails(built: Build) -> None:
    trail = view(built().one("aws:cloudtrail/trail:Trail"))
    single = replace(trail, inputs={**trail.inputs, "isMultiRegionTrail": False})
    assert "records one Region only" in found(RULES.checks[Rule.AUDIT_TRAIL][trail.type], single, CTX)
