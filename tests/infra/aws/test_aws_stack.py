"""The whole AWS tenant stack under Pulumi mocks: every part exists with its security settings, per size
and per spec variant."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_harness import SECRET_SIG, SECRETS, Built, build_stack, make_spec

from infra.spec import TENANT_TAG
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

Build = Callable[..., Built]
SIZES = ("small", "medium", "large")
PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"
CUSTOMER_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ZONE = "Z0123456789ABCDEFGHIJ"
BYOB = {"mode": "byob", "bucket": "acme-corp-data", "customer_account": "210987654321", "external_id": "ext-1234"}


def _tenant_key(b: Built) -> str:
    return str(b.one("aws:kms/key:Key").outputs["arn"])


@pytest.mark.parametrize("size", SIZES)
def test_every_part_with_its_security_settings(built: Build, size: str) -> None:
    b = built(size=size)
    spec = make_spec(size=size)
    preset = spec.preset
    key = _tenant_key(b)

    # keys
    kms = b.one("aws:kms/key:Key")
    assert kms.inputs["enableKeyRotation"] is True
    assert kms.inputs["deletionWindowInDays"] == 30
    assert kms.protect
    assert b.one("aws:kms/alias:Alias").inputs["name"] == "alias/acme-key"
    policy = json.loads(b.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"])
    assert {s["Sid"] for s in policy["Statement"]} >= {"AccountAdministersViaIam", "CloudTrailEncryptsThisTrail"}

    # network
    vpc = b.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.20.0.0/16"
    subnets = b.all("aws:ec2/subnet:Subnet")
    assert {s.inputs["availabilityZone"] for s in subnets} == set(spec.zones)
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]]
    assert sorted(s.inputs["cidrBlock"] for s in private) == sorted(b.resolved["private_cidrs"])
    assert len(b.all("aws:ec2/natGateway:NatGateway")) == len(spec.zones)
    egress = [r for r in b.all("aws:ec2/route:Route") if r.inputs.get("natGatewayId")]
    assert len(egress) == len(spec.zones)
    flow = b.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    default_sg = b.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == [] and default_sg.inputs.get("egress", []) == []
    assert all(g.inputs["kmsKeyId"] == key for g in b.all("aws:cloudwatch/logGroup:LogGroup"))

    # cluster
    eks = b.one("aws:eks/cluster:Cluster")
    assert eks.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert eks.inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert eks.inputs["encryptionConfig"] == {"resources": ["secrets"], "provider": {"keyArn": key}}
    assert set(eks.inputs["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
    assert eks.inputs["deletionProtection"] is True
    nodes = b.one("aws:eks/nodeGroup:NodeGroup")
    assert nodes.inputs["instanceTypes"] == [preset.node_machine_type]
    assert nodes.inputs["scalingConfig"] == {
        "minSize": preset.node_count_min,
        "desiredSize": preset.node_count_min,
        "maxSize": preset.node_count_max,
    }
    template = b.one("aws:ec2/launchTemplate:LaunchTemplate")
    ebs = template.inputs["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["kmsKeyId"] == key
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1

    # workload identity
    oidc = b.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    gateway = b.named("aws:iam/role:Role", "acme-gateway")
    trust = json.loads(gateway.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}" in trust["Condition"]["StringEquals"].values()
    assert b.resolved["sa:eks.amazonaws.com/role-arn"] == gateway.outputs["arn"]

    # database
    db = b.one("aws:rds/instance:Instance")
    assert db.inputs["engine"] == "mysql" and db.inputs["engineVersion"].startswith("8.")
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["storageEncrypted"] is True and db.inputs["kmsKeyId"] == key
    assert db.inputs["backupRetentionPeriod"] >= 7
    assert db.inputs["multiAz"] is preset.db_high_availability
    assert db.inputs["multiAz"] is (size != "small")
    assert db.inputs["deletionProtection"] is True
    assert db.inputs["skipFinalSnapshot"] is False and db.inputs["finalSnapshotIdentifier"] == "acme-db-final"
    assert db.inputs["instanceClass"] == preset.db_instance_class
    assert db.inputs["allocatedStorage"] == preset.db_storage_gb
    assert db.protect
    params = b.one("aws:rds/parameterGroup:ParameterGroup")
    assert db.inputs["parameterGroupName"] == params.inputs["name"]
    assert {"name": "require_secure_transport", "value": "1", "applyMethod": "immediate"} in params.inputs["parameters"]
    db_sg = b.named("aws:ec2/securityGroup:SecurityGroup", "acme-db")
    assert db.inputs["vpcSecurityGroupIds"] == [db_sg.outputs["id"]]
    db_rule = b.named("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "acme-db-from-nodes")
    node_sg = b.named("aws:ec2/securityGroup:SecurityGroup", "acme-eks-nodes")
    assert db_rule.inputs["referencedSecurityGroupId"] == node_sg.outputs["id"]
    assert (db_rule.inputs["fromPort"], db_rule.inputs["toPort"]) == (3306, 3306)

    # cache
    cache = b.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache.inputs["transitEncryptionEnabled"] is True
    assert cache.inputs["transitEncryptionMode"] == "required"
    assert cache.inputs["atRestEncryptionEnabled"] is True and cache.inputs["kmsKeyId"] == key
    assert cache.inputs["authToken"][SECRET_SIG]  # set, and as a secret
    assert cache.inputs["numCacheClusters"] == 1 + preset.cache_replicas
    assert cache.inputs["nodeType"] == preset.cache_node_type
    assert cache.inputs["automaticFailoverEnabled"] is True and cache.inputs["multiAzEnabled"] is True
    assert cache.protect

    # storage (managed)
    data = b.named("aws:s3/bucket:Bucket", "acme-data")
    assert data.protect and data.inputs["bucketPrefix"] == "acme-data-"
    _assert_private_bucket(b, "acme-data", key)
    cors = b.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    assert cors.inputs["corsRules"][0]["allowedOrigins"] == ["https://acme.enclave.example.com"]
    assert b.resolved["bucket"] == data.outputs["bucket"]
    grant = json.loads(b.named("aws:iam/rolePolicy:RolePolicy", "acme-gateway-storage").inputs["policy"])
    assert {
        "Sid": "ListTenantBucket",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": data.outputs["arn"],
    } in grant["Statement"]
    assert b.resolved["external_id"] is None

    # audit trail
    trail = b.one("aws:cloudtrail/trail:Trail")
    assert trail.inputs["enableLogFileValidation"] is True and trail.inputs["kmsKeyId"] == key
    audit = b.named("aws:s3/bucket:Bucket", "acme-audit")
    assert audit.inputs["objectLockEnabled"] is True and audit.protect
    assert trail.inputs["s3BucketName"] == audit.outputs["id"]
    _assert_private_bucket(b, "acme-audit", key)
    lock = b.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    data_selector = trail.inputs["advancedEventSelectors"][1]["fieldSelectors"][2]
    assert data_selector["startsWiths"] == [f"{data.outputs['arn']}/"]
    assert b.resolved["audit_trail"] == trail.outputs["arn"]

    # connectivity: TLS on 443 with the tenant certificate, public, no PrivateLink or peering by default
    cert = b.one("aws:acm/certificate:Certificate")
    assert cert.inputs["domainName"] == "acme.enclave.example.com"
    assert b.resolved[f"lb:{PREFIX}ssl-cert"] == cert.outputs["arn"]
    assert b.resolved[f"lb:{PREFIX}ssl-ports"] == "443"
    assert f"lb:{PREFIX}internal" not in b.resolved
    assert not b.all("aws:ec2/vpcEndpointService:VpcEndpointService")
    assert not b.all("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert "private_link_service" not in b.resolved


def _assert_private_bucket(b: Built, name: str, key: str) -> None:
    bucket = b.named("aws:s3/bucket:Bucket", name)
    bucket_id = bucket.outputs["id"]
    block = b.named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access")
    assert block.inputs["bucket"] == bucket_id
    assert all(
        block.inputs[f] is True
        for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    versioning = b.named("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = b.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", f"{name}-encryption"
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key,
    }
    policy = json.loads(b.named("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy").inputs["policy"])
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("size", SIZES)
def test_every_taggable_resource_is_tagged(built: Build, size: str) -> None:
    """(How resources hang under the parts is the contract suite's: tests/infra/test_cloud_contract.py.)"""
    from infra.aws.policy import TAGGABLE_TYPES

    b = built(size=size)
    stack = b.one("enclave:index:TenantStack")
    for r in b.run.resources:
        if r is not stack:
            assert r.name.startswith("acme-"), r.name
        if r.type in TAGGABLE_TYPES:
            assert r.inputs["tags"][TENANT_TAG] == "acme", r.name
    provider = b.one("pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-west-1"


@pytest.mark.parametrize("size", SIZES)
def test_secrets_only_as_secrets(built: Build, size: str) -> None:
    b = built(size=size)

    def plain(value: Any) -> list[str]:
        if isinstance(value, dict):
            if SECRET_SIG in value:
                return []
            return [hit for v in value.values() for hit in plain(v)]
        if isinstance(value, list):
            return [hit for v in value for hit in plain(v)]
        return [value] if isinstance(value, str) and any(s in value for s in SECRETS) else []

    for r in b.run.resources:
        assert plain(r.inputs) == [], f"{r.name} carries a secret in plain inputs"
    assert b.one("aws:rds/instance:Instance").inputs["password"][SECRET_SIG]
    for key in ("kubeconfig", "db_password", "cache_token"):
        assert b.resolved[f"{key}.secret"] is True, key
    assert b.resolved["db_password"] == SECRETS[0] and b.resolved["cache_token"] == SECRETS[1]
    kubeconfig = json.loads(b.resolved["kubeconfig"])
    eks = b.one("aws:eks/cluster:Cluster")
    assert kubeconfig["clusters"][0]["cluster"]["server"] == eks.outputs["endpoint"]


def test_allowed_cidrs_keep_the_load_balancer_public_and_groups_closed(built: Build) -> None:
    b = built(connectivity={"allowed_cidrs": ["203.0.113.0/24"]})
    assert f"lb:{PREFIX}internal" not in b.resolved
    open_rules = [
        r
        for r in b.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    ]
    assert open_rules == []


def test_private_link_with_consumers_and_no_public_ingress(built: Build) -> None:
    b = built(
        connectivity={"public_ingress": False, "private_link": True, "private_link_consumers": ["210987654321"]},
        route53_zone_id=ZONE,
    )
    service = b.one("aws:ec2/vpcEndpointService:VpcEndpointService")
    nlb = b.one("aws:lb/loadBalancer:LoadBalancer")
    assert service.inputs["acceptanceRequired"] is True
    assert service.inputs["allowedPrincipals"] == ["arn:aws:iam::210987654321:root"]
    assert service.inputs["networkLoadBalancerArns"] == [nlb.outputs["arn"]]
    assert nlb.inputs["internal"] is True and nlb.inputs["loadBalancerType"] == "network"
    listener = b.one("aws:lb/listener:Listener")
    assert listener.inputs["protocol"] == "TLS" and listener.inputs["port"] == 443
    assert (
        listener.inputs["certificateArn"]
        == b.one("aws:acm/certificateValidation:CertificateValidation").outputs["certificateArn"]
    )
    attachment = b.one("aws:autoscaling/attachment:Attachment")
    node_group = b.one("aws:eks/nodeGroup:NodeGroup")
    assert (
        attachment.inputs["autoscalingGroupName"] == node_group.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    )
    node_rules = [r for r in b.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "from-pl" in r.name]
    assert sorted(r.inputs["cidrIpv4"] for r in node_rules) == sorted(b.resolved["private_cidrs"])
    assert b.resolved["private_link_service"] == service.outputs["serviceName"]
    assert b.resolved[f"lb:{PREFIX}internal"] == "true"


def test_peering_routes_the_peer_from_private_subnets(built: Build) -> None:
    peering = {"peer_network": "vpc-0123456789abcdef0", "peer_owner": "210987654321", "peer_cidr": "10.99.0.0/16"}
    b = built(connectivity={"peering": peering})
    connection = b.one("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert connection.inputs["peerVpcId"] == "vpc-0123456789abcdef0"
    assert connection.inputs["peerOwnerId"] == "210987654321"
    assert connection.inputs["autoAccept"] is False
    routes = [r for r in b.all("aws:ec2/route:Route") if r.inputs.get("vpcPeeringConnectionId")]
    assert len(routes) == 3 and {r.inputs["destinationCidrBlock"] for r in routes} == {"10.99.0.0/16"}
    assert b.resolved["extra:peeringConnectionId"] == connection.outputs["id"]


def test_peering_refuses_a_malformed_peer() -> None:
    with pytest.raises(Exception, match="12-digit"):
        build_stack(
            make_spec(
                connectivity={
                    "peering": {
                        "peer_network": "vpc-0123456789abcdef0",
                        "peer_owner": "me",
                        "peer_cidr": "10.99.0.0/16",
                    }
                }
            )
        )


def test_byob_grants_the_gateway_role_to_assume_into_the_customer(built: Build) -> None:
    b = built(storage=BYOB)
    buckets = b.all("aws:s3/bucket:Bucket")
    assert [x.name for x in buckets] == ["acme-audit"]  # no managed data bucket
    assert not b.all("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    gateway = b.named("aws:iam/role:Role", "acme-gateway")
    assert b.resolved["platform_identity"] == gateway.outputs["arn"]
    assert b.resolved["external_id"] == "ext-1234"
    assert b.resolved["bucket"] == "acme-corp-data"
    grant = json.loads(b.named("aws:iam/rolePolicy:RolePolicy", "acme-gateway-storage").inputs["policy"])
    assert grant["Statement"] == [
        {
            "Sid": "AssumeCustomerBucketRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::210987654321:role/*",
        }
    ]
    selectors = b.one("aws:cloudtrail/trail:Trail").inputs["advancedEventSelectors"]
    assert [s["name"] for s in selectors] == ["Management events"]


def test_customer_managed_key_is_used_instead(built: Build) -> None:
    b = built(customer_managed_key=CUSTOMER_KEY)
    assert not b.all("aws:kms/key:Key") and not b.all("aws:kms/keyPolicy:KeyPolicy")
    assert b.resolved["key_id"] == CUSTOMER_KEY
    assert b.one("aws:rds/instance:Instance").inputs["kmsKeyId"] == CUSTOMER_KEY
    assert b.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs["kmsKeyId"] == CUSTOMER_KEY
    assert b.one("aws:eks/cluster:Cluster").inputs["encryptionConfig"]["provider"]["keyArn"] == CUSTOMER_KEY
    assert b.one("aws:cloudtrail/trail:Trail").inputs["kmsKeyId"] == CUSTOMER_KEY
    for sse in b.all("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == CUSTOMER_KEY


def test_deletion_protection_off(built: Build) -> None:
    b = built(deletion_protection=False)
    db = b.one("aws:rds/instance:Instance")
    assert db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is False  # a final snapshot is taken regardless
    assert b.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is False
    assert not any(r.protect for r in b.run.resources)
    lock = b.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"]["mode"] == "GOVERNANCE"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"enclave:databasePassword": "short", "enclave:cacheAuthToken": SECRETS[1]}, "databasePassword"),
        ({"enclave:databasePassword": SECRETS[0], "enclave:cacheAuthToken": "too-short"}, "cacheAuthToken"),
    ],
)
def test_unusable_secrets_fail_clearly(config: dict[str, str], message: str) -> None:
    with pytest.raises(Exception, match=message) as raised:
        build_stack(make_spec(), config=config)
    assert "too-short" not in str(raised.value) and "short'" not in str(raised.value)


def test_bad_customer_key_fails_clearly() -> None:
    with pytest.raises(ValueError, match="customer_managed_key"):
        build_stack(
            make_spec(
                customer_managed_key="arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            )
        )
