"""What each policy rule means for the AWS resource types a tenant stack uses (or that a hand-edited
program might add wrongly). Checks read camelCase inputs, the shape both the mock graph and a
pulumi-policy validator see, and return None or what is wrong and how to fix it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.policy.model import CloudRules, PolicyContext, ResourceCheck, ResourceView, Rule

ANYWHERE_V4, ANYWHERE_V6 = "0.0.0.0/0", "::/0"
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")

# Resource types
RDS = "aws:rds/instance:Instance"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
EKS = "aws:eks/cluster:Cluster"
TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SUBNET = "aws:ec2/subnet:Subnet"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"
ROLE = "aws:iam/role:Role"
ENDPOINT_SERVICE = "aws:ec2/vpcEndpointService:VpcEndpointService"

TAGGABLE_TYPES = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        SUBNET,
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        DEFAULT_SG,
        SG,
        SG_INGRESS,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ec2/flowLog:FlowLog",
        LAUNCH_TEMPLATE,
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
        ENDPOINT_SERVICE,
        LOG_GROUP,
        ROLE,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        EKS,
        "aws:eks/nodeGroup:NodeGroup",
        KMS_KEY,
        RDS,
        "aws:rds/subnetGroup:SubnetGroup",
        RDS_PARAMS,
        "aws:elasticache/subnetGroup:SubnetGroup",
        CACHE,
        BUCKET,
        TRAIL,
        "aws:acm/certificate:Certificate",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        LISTENER,
    }
)

# Inputs naming a physical resource (or one it attaches to) that must belong to this tenant.
NAME_FIELDS = (
    "name",
    "namePrefix",
    "bucket",
    "bucketPrefix",
    "identifier",
    "replicationGroupId",
    "nodeGroupName",
    "clusterName",
    "dbSubnetGroupName",
    "subnetGroupName",
    "parameterGroupName",
    "role",
)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _key_problem(key: Any, what: str) -> str | None:
    if not key:
        return f"{what} names no KMS key; set it to the tenant key (or spec.customer_managed_key)"
    if isinstance(key, str) and "alias/aws/" in key:
        return f"{what} uses the AWS-managed key {key}; use the tenant key (or spec.customer_managed_key)"
    return None


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, Mapping)]


def _principals(statement: Mapping[str, Any]) -> Iterator[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        yield principal
    elif isinstance(principal, Mapping):
        for value in principal.values():
            yield from [value] if isinstance(value, str) else (v for v in value if isinstance(v, str))


# --- no public data services -------------------------------------------------------------------


def _rds_private(r: ResourceView, _: PolicyContext) -> str | None:
    if _true(r.inputs.get("publiclyAccessible")):
        return "RDS instance is publicly accessible; set publicly_accessible=False (private subnets only)"
    return None


def _cache_private(r: ResourceView, _: PolicyContext) -> str | None:
    if not r.inputs.get("subnetGroupName") or not r.inputs.get("securityGroupIds"):
        return "ElastiCache group needs the tenant's private subnet group and its own security group"
    if not r.inputs.get("authToken") and not r.inputs.get("userGroupIds"):
        return "ElastiCache group has no AUTH; set auth_token from the stack secret cacheAuthToken"
    return None


def _public_access_block(r: ResourceView, _: PolicyContext) -> str | None:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if not _true(r.inputs.get(f))]
    return f"bucket public access block leaves {', '.join(off)} off; set all four to True" if off else None


def _bucket_acl(r: ResourceView, _: PolicyContext) -> str | None:
    acl = r.inputs.get("acl")
    if acl in PUBLIC_ACLS:
        return f"bucket ACL {acl!r} exposes objects; use BucketOwnerEnforced ownership and no public ACL"
    return None


def _bucket_policy_not_public(r: ResourceView, _: PolicyContext) -> str | None:
    for statement in _statements(r.inputs.get("policy")):
        if statement.get("Effect") == "Allow" and "*" in _principals(statement) and not statement.get("Condition"):
            return "bucket policy allows Principal '*' without a condition; grant named principals only"
    return None


def _subnet_no_public_ips(r: ResourceView, _: PolicyContext) -> str | None:
    if _true(r.inputs.get("mapPublicIpOnLaunch")):
        return "subnet assigns public IPs on launch; set map_public_ip_on_launch=False"
    return None


# --- encryption at rest with the tenant key ------------------------------------------------------


def _rds_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    if not _true(r.inputs.get("storageEncrypted")):
        return "RDS storage is not encrypted; set storage_encrypted=True with kms_key_id = the tenant key"
    return _key_problem(r.inputs.get("kmsKeyId"), "RDS instance kms_key_id")


def _cache_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    if not _true(r.inputs.get("atRestEncryptionEnabled")):
        return "ElastiCache at-rest encryption is off; set at_rest_encryption_enabled=True with the tenant key"
    return _key_problem(r.inputs.get("kmsKeyId"), "ElastiCache kms_key_id")


def _bucket_sse(r: ResourceView, _: PolicyContext) -> str | None:
    rules = r.inputs.get("rules") or []
    defaults = [(rule or {}).get("applyServerSideEncryptionByDefault") or {} for rule in rules]
    if not defaults or any(d.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse") for d in defaults):
        return "bucket encryption is not SSE-KMS; use sse_algorithm 'aws:kms' with the tenant key"
    for d in defaults:
        if problem := _key_problem(d.get("kmsMasterKeyId"), "bucket kms_master_key_id"):
            return problem
    return None


def _eks_secrets_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    config = r.inputs.get("encryptionConfig") or {}
    if "secrets" not in (config.get("resources") or []):
        return "EKS secrets are not envelope-encrypted; set encryption_config resources=['secrets']"
    return _key_problem((config.get("provider") or {}).get("keyArn"), "EKS encryption_config provider key_arn")


def _trail_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    return _key_problem(r.inputs.get("kmsKeyId"), "CloudTrail kms_key_id")


def _log_group_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    return _key_problem(r.inputs.get("kmsKeyId"), "log group kms_key_id")


def _launch_template_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    mappings = r.inputs.get("blockDeviceMappings") or []
    if not mappings:
        return "launch template leaves the root volume to AMI defaults; map it with ebs encrypted and the tenant key"
    for mapping in mappings:
        ebs = (mapping or {}).get("ebs") or {}
        if not _true(ebs.get("encrypted")):
            return f"launch template volume {mapping.get('deviceName')} is not encrypted; set ebs encrypted='true'"
        if problem := _key_problem(ebs.get("kmsKeyId"), "launch template ebs kms_key_id"):
            return problem
    return None


def _key_rotates(r: ResourceView, _: PolicyContext) -> str | None:
    if not _true(r.inputs.get("enableKeyRotation")):
        return "KMS key rotation is off; set enable_key_rotation=True"
    return None


# --- TLS in transit ------------------------------------------------------------------------------


def _cache_tls(r: ResourceView, _: PolicyContext) -> str | None:
    if not _true(r.inputs.get("transitEncryptionEnabled")):
        return "ElastiCache TLS is off; set transit_encryption_enabled=True"
    if r.inputs.get("transitEncryptionMode", "required") != "required":
        return "ElastiCache still accepts plaintext; set transit_encryption_mode='required'"
    return None


def _mysql_params_tls(r: ResourceView, _: PolicyContext) -> str | None:
    if not str(r.inputs.get("family", "")).startswith("mysql"):
        return None
    values = {p.get("name"): str(p.get("value")).upper() for p in r.inputs.get("parameters") or []}
    if values.get("require_secure_transport") not in ("1", "ON"):
        return "MySQL parameter group does not set require_secure_transport=1; add it"
    return None


def _rds_uses_tls_params(r: ResourceView, _: PolicyContext) -> str | None:
    group = r.inputs.get("parameterGroupName")
    if r.inputs.get("engine") == "mysql" and (not group or str(group).startswith("default.")):
        return "RDS MySQL uses the default parameter group (TLS optional); use one with require_secure_transport=1"
    return None


def _bucket_policy_tls(r: ResourceView, _: PolicyContext) -> str | None:
    for statement in _statements(r.inputs.get("policy")):
        condition = statement.get("Condition") or {}
        if statement.get("Effect") == "Deny" and (condition.get("Bool") or {}).get("aws:SecureTransport") == "false":
            return None
    return "bucket policy does not deny aws:SecureTransport=false; add the TLS-only deny statement"


def _listener_tls(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("protocol") not in ("TLS", "HTTPS"):
        return f"load balancer listener speaks {r.inputs.get('protocol')}; use TLS (or HTTPS) with the ACM certificate"
    if not r.inputs.get("certificateArn") or not r.inputs.get("sslPolicy"):
        return "TLS listener needs certificate_arn and an explicit ssl_policy"
    return None


# --- deletion protection -------------------------------------------------------------------------


def _protected(what: str) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> str | None:
        if ctx.deletion_protection and not r.protect:
            return f"{what} is not protected; create it with ctx.opts(stateful=True) so pulumi destroy refuses it"
        return None

    return check


def _rds_deletion(r: ResourceView, ctx: PolicyContext) -> str | None:
    if _true(r.inputs.get("skipFinalSnapshot")) or not r.inputs.get("finalSnapshotIdentifier"):
        return "RDS instance would be deleted without a final snapshot; set skip_final_snapshot=False and a name"
    if ctx.deletion_protection and not _true(r.inputs.get("deletionProtection")):
        return "RDS deletion protection is off while the spec requires it; set deletion_protection=True"
    return _protected("the RDS instance")(r, ctx)


def _eks_deletion(r: ResourceView, ctx: PolicyContext) -> str | None:
    if ctx.deletion_protection and not _true(r.inputs.get("deletionProtection")):
        return "EKS deletion protection is off while the spec requires it; set deletion_protection=True"
    return None


def _key_deletion(r: ResourceView, ctx: PolicyContext) -> str | None:
    if int(r.inputs.get("deletionWindowInDays") or 30) < 30:
        return "KMS key deletion window is shorter than 30 days; set deletion_window_in_days=30"
    return _protected("the KMS key")(r, ctx)


def _bucket_deletion(r: ResourceView, ctx: PolicyContext) -> str | None:
    if _true(r.inputs.get("forceDestroy")):
        return "bucket has force_destroy=True, which deletes every object with it; set it to False"
    return _protected("the bucket")(r, ctx)


def _object_lock(r: ResourceView, ctx: PolicyContext) -> str | None:
    retention = ((r.inputs.get("rule") or {}).get("defaultRetention")) or {}
    if not (retention.get("days") or retention.get("years")):
        return "audit bucket Object Lock has no default retention; set a default_retention in days"
    if ctx.deletion_protection and retention.get("mode") != "COMPLIANCE":
        return "audit log retention must be COMPLIANCE mode while deletion protection is on"
    return None


# --- private cluster endpoint --------------------------------------------------------------------


def _eks_private(r: ResourceView, _: PolicyContext) -> str | None:
    vpc = r.inputs.get("vpcConfig") or {}
    if not _true(vpc.get("endpointPrivateAccess")):
        return "EKS private endpoint is off; set vpc_config endpoint_private_access=True"
    if vpc.get("endpointPublicAccess") is False or vpc.get("endpointPublicAccess") == "false":
        return None
    cidrs = vpc.get("publicAccessCidrs") or []
    if not cidrs or ANYWHERE_V4 in cidrs:
        return (
            "EKS API endpoint is public to the internet (the default when endpoint_public_access is unset); "
            "set endpoint_public_access=False or restrict public_access_cidrs"
        )
    return None


# --- no open ingress -----------------------------------------------------------------------------


def _open(cidrs_v4: Any, cidrs_v6: Any) -> bool:
    return ANYWHERE_V4 in (cidrs_v4 or []) or ANYWHERE_V6 in (cidrs_v6 or [])


_OPEN_MESSAGE = (
    "security group {what} admits 0.0.0.0/0; on AWS the listener's allow list is managed from "
    "loadBalancerSourceRanges, so program-managed groups may only admit named groups or private CIDRs"
)


def _sg_inline(r: ResourceView, _: PolicyContext) -> str | None:
    for rule in r.inputs.get("ingress") or []:
        if _open(rule.get("cidrBlocks"), rule.get("ipv6CidrBlocks")):
            return _OPEN_MESSAGE.format(what=f"{r.name} (inline rule, port {rule.get('fromPort')})")
    return None


def _sg_rule(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("type") == "ingress" and _open(r.inputs.get("cidrBlocks"), r.inputs.get("ipv6CidrBlocks")):
        return _OPEN_MESSAGE.format(what=f"rule {r.name}")
    return None


def _sg_ingress_rule(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("cidrIpv4") == ANYWHERE_V4 or r.inputs.get("cidrIpv6") == ANYWHERE_V6:
        return _OPEN_MESSAGE.format(what=f"rule {r.name}")
    return None


# --- nothing shared with another tenant ----------------------------------------------------------


def _owned_name(value: Any, tenant: str) -> bool:
    """`<tenant>-...` at the start of the name or of any path segment (alias/<tenant>-key,
    /aws/eks/<tenant>-eks/cluster), or an ARN / id ending in such a segment."""
    return isinstance(value, str) and re.search(rf"(^|[/:]){re.escape(tenant)}-", value) is not None


def _names_owned(r: ResourceView, ctx: PolicyContext) -> str | None:
    for field in NAME_FIELDS:
        value = r.inputs.get(field)
        if value is not None and not _owned_name(value, ctx.tenant):
            return f"{field}={value!r} is not this tenant's; name it via ctx.name(...) ('{ctx.tenant}-...')"
    return None


def _single_account(document: Any) -> str | None:
    accounts = {m.group(1) for s in _statements(document) for p in _principals(s) if (m := _ACCOUNT_IN_ARN.match(p))}
    if len(accounts) > 1:
        return f"key policy grants principals of several accounts ({', '.join(sorted(accounts))}); grant only this one"
    for s in _statements(document):
        if s.get("Effect") == "Allow" and "*" in _principals(s):
            return "key policy allows Principal '*'; grant named principals only"
    return None


def _key_policy_owned(r: ResourceView, _: PolicyContext) -> str | None:
    return _single_account(r.inputs.get("policy"))


def _role_trust_owned(r: ResourceView, ctx: PolicyContext) -> str | None:
    for s in _statements(r.inputs.get("assumeRolePolicy")):
        if s.get("Effect") == "Allow" and "*" in _principals(s):
            return "role trust policy allows Principal '*'; trust a named service, role or OIDC provider"
    return _names_owned(r, ctx)


def _endpoint_service_owned(r: ResourceView, _: PolicyContext) -> str | None:
    principals = r.inputs.get("allowedPrincipals") or []
    if "*" in principals:
        return "endpoint service allows every AWS principal; list the consumers in private_link_consumers"
    if not _true(r.inputs.get("acceptanceRequired")):
        return "endpoint service accepts connections automatically; set acceptance_required=True"
    return None


def _name_checks(types: frozenset[str]) -> dict[str, ResourceCheck]:
    return dict.fromkeys(types, _names_owned)


RULES = CloudRules(
    checks={
        Rule.NO_PUBLIC_DATA: {
            RDS: _rds_private,
            CACHE: _cache_private,
            BUCKET_BLOCK: _public_access_block,
            BUCKET_ACL: _bucket_acl,
            BUCKET: _bucket_acl,
            BUCKET_POLICY: _bucket_policy_not_public,
            SUBNET: _subnet_no_public_ips,
        },
        Rule.ENCRYPTION_AT_REST: {
            RDS: _rds_encrypted,
            CACHE: _cache_encrypted,
            BUCKET_SSE: _bucket_sse,
            EKS: _eks_secrets_encrypted,
            TRAIL: _trail_encrypted,
            LOG_GROUP: _log_group_encrypted,
            LAUNCH_TEMPLATE: _launch_template_encrypted,
            KMS_KEY: _key_rotates,
        },
        Rule.TLS_IN_TRANSIT: {
            CACHE: _cache_tls,
            RDS_PARAMS: _mysql_params_tls,
            RDS: _rds_uses_tls_params,
            BUCKET_POLICY: _bucket_policy_tls,
            LISTENER: _listener_tls,
        },
        Rule.DELETION_PROTECTION: {
            RDS: _rds_deletion,
            CACHE: _protected("the ElastiCache replication group"),
            EKS: _eks_deletion,
            KMS_KEY: _key_deletion,
            BUCKET: _bucket_deletion,
            LOG_GROUP: _protected("the log group"),
            BUCKET_LOCK: _object_lock,
        },
        Rule.PRIVATE_CLUSTER_ENDPOINT: {EKS: _eks_private},
        Rule.NO_OPEN_INGRESS: {
            SG: _sg_inline,
            DEFAULT_SG: _sg_inline,
            SG_RULE: _sg_rule,
            SG_INGRESS: _sg_ingress_rule,
        },
        Rule.NO_CROSS_TENANT_SHARING: {
            **_name_checks(TAGGABLE_TYPES - {ROLE, ENDPOINT_SERVICE}),
            **_name_checks(
                frozenset(
                    {
                        "aws:kms/alias:Alias",
                        "aws:iam/rolePolicy:RolePolicy",
                        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    }
                )
            ),
            ROLE: _role_trust_owned,
            KMS_KEY: _key_policy_owned,
            KMS_KEY_POLICY: _key_policy_owned,
            ENDPOINT_SERVICE: _endpoint_service_owned,
        },
    },
    taggable_types=TAGGABLE_TYPES,
    tag_field="tags",
)
