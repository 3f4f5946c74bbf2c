"""What each policy rule means for the AWS resource types a tenant stack uses (or that a hand-edited
program might add wrongly). Checks read camelCase inputs, the shape both the mock graph and a
pulumi-policy validator see, and return None or what is wrong and how to fix it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.policy import cidrs
from infra.policy.graph import Companion, Reference, companion_check, owned_arn, reference_check, tenant_key_check
from infra.policy.model import (
    UNKNOWN,
    CloudRules,
    Graph,
    PolicyContext,
    ResourceCheck,
    ResourceView,
    Rule,
    Violation,
    violation,
)

MIN_BACKUP_DAYS = 7
TLS_PORT = 443
# AWS managed policies that grant administration (job-function policies,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html, and IAMFullAccess,
# which can grant itself anything): never attached by a tenant stack.
ADMIN_MANAGED_POLICIES = frozenset(
    f"arn:aws:iam::aws:policy/{name}"
    for name in ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AWSOrganizationsFullAccess")
)
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")

# Resource types
RDS = "aws:rds/instance:Instance"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
OPTION_GROUP = "aws:rds/optionGroup:OptionGroup"
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
ALIAS = "aws:kms/alias:Alias"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
CACHE_SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# Identity-based policy documents (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html).
IDENTITY_POLICIES = (
    ROLE_POLICY,
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
POLICY_ATTACHMENTS = (
    ROLE_POLICY_ATTACHMENT,
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)

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
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        LOG_GROUP,
        ROLE,
        "aws:iam/serviceLinkedRole:ServiceLinkedRole",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        EKS,
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon",
        KMS_KEY,
        RDS,
        "aws:rds/subnetGroup:SubnetGroup",
        RDS_PARAMS,
        OPTION_GROUP,
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
    "optionGroupName",
    "role",
)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _key_problem(key: Any, what: str) -> Iterator[str]:
    if not key:
        yield f"{what} names no KMS key; set it to the tenant key (or spec.customer_managed_key)"
    elif isinstance(key, str) and "alias/aws/" in key:
        yield f"{what} uses the AWS-managed key {key}; use the tenant key (or spec.customer_managed_key)"


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


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


# --- no public data services -------------------------------------------------------------------


def _rds_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if _true(r.inputs.get("publiclyAccessible")):
        yield "RDS instance is publicly accessible; set publicly_accessible=False (private subnets only)"


def _cache_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not r.inputs.get("subnetGroupName") or not r.inputs.get("securityGroupIds"):
        yield "ElastiCache group needs the tenant's private subnet group and its own security group"
    if not r.inputs.get("authToken") and not r.inputs.get("userGroupIds"):
        yield "ElastiCache group has no AUTH; set auth_token from the stack secret cacheAuthToken"


def _public_access_block(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if off := [f for f in flags if not _true(r.inputs.get(f))]:
        yield f"bucket public access block leaves {', '.join(off)} off; set all four to True"


def _bucket_acl(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    acl = r.inputs.get("acl")
    if acl in PUBLIC_ACLS:
        yield f"bucket ACL {acl!r} exposes objects; use BucketOwnerEnforced ownership and no public ACL"


# What makes a `Principal: "*"` grant non-public, as Amazon S3 itself decides it ("The meaning of 'public'",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status;
# the same list in the API reference's PublicAccessBlockConfiguration): a condition that pins the caller to a
# fixed source ARN, VPC, VPC endpoint, owner, account, KMS key, organization or user id, or to a set of CIDRs.
# "Fixed" means no wildcard and no policy variable, under an operator that must match (not a negated one, not
# an ...IfExists one, which holds when the key is absent, and not `Null`).
PINNING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOwner",
        "aws:SourceAccount",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:userid",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    )
)
PINNING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "ForAnyValue:StringEquals"}
)
SOURCE_IP = "aws:sourceip"


def _fixed(value: str) -> bool:
    return bool(value) and not any(c in value for c in "*?$")


def _public_grant(statement: Mapping[str, Any], ctx: PolicyContext) -> str | None:
    """Why an Allow to every principal is public, or None when its condition pins the caller as S3 requires."""
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, Mapping) or not conditions:
        return "it has no condition"
    for operator, entries in conditions.items():
        if not isinstance(entries, Mapping):
            continue
        for key, values in entries.items():
            listed = _listed(values)
            if operator in PINNING_OPERATORS and key.lower() in PINNING_KEYS and listed and all(map(_fixed, listed)):
                if key.lower() == "aws:userid" and any(v.startswith("AROLEID:") for v in listed):
                    continue
                return None
            if operator == "IpAddress" and key.lower() == SOURCE_IP and listed:
                beyond = cidrs.outside(listed, ctx.trusted_cidrs)
                if beyond is None:
                    return None
                return f"its aws:SourceIp condition admits {beyond}"
    return f"its condition ({json.dumps(conditions, sort_keys=True)}) does not pin the caller"


def _bucket_policy_not_public(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    for index, statement in enumerate(_statements(r.inputs.get("policy"))):
        if statement.get("Effect") != "Allow" or "*" not in _principals(statement):
            continue
        if why := _public_grant(statement, ctx):
            sid = statement.get("Sid") or f"statement {index}"
            yield f"bucket policy {sid} allows Principal '*' and {why}; grant named principals only"


def _subnet_no_public_ips(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if _true(r.inputs.get("mapPublicIpOnLaunch")):
        yield "subnet assigns public IPs on launch; set map_public_ip_on_launch=False"


# --- encryption at rest with the tenant key ------------------------------------------------------


def _rds_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not _true(r.inputs.get("storageEncrypted")):
        yield "RDS storage is not encrypted; set storage_encrypted=True with kms_key_id = the tenant key"
    yield from _key_problem(r.inputs.get("kmsKeyId"), "RDS instance kms_key_id")


def _cache_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not _true(r.inputs.get("atRestEncryptionEnabled")):
        yield "ElastiCache at-rest encryption is off; set at_rest_encryption_enabled=True with the tenant key"
    yield from _key_problem(r.inputs.get("kmsKeyId"), "ElastiCache kms_key_id")


def _bucket_sse(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    rules = r.inputs.get("rules") or []
    defaults = [(rule or {}).get("applyServerSideEncryptionByDefault") or {} for rule in rules]
    if not defaults or any(d.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse") for d in defaults):
        yield "bucket encryption is not SSE-KMS; use sse_algorithm 'aws:kms' with the tenant key"
    for d in defaults:
        yield from _key_problem(d.get("kmsMasterKeyId"), "bucket kms_master_key_id")


def _eks_secrets_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    config = r.inputs.get("encryptionConfig") or {}
    if "secrets" not in (config.get("resources") or []):
        yield "EKS secrets are not envelope-encrypted; set encryption_config resources=['secrets']"
    yield from _key_problem((config.get("provider") or {}).get("keyArn"), "EKS encryption_config provider key_arn")


def _trail_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    yield from _key_problem(r.inputs.get("kmsKeyId"), "CloudTrail kms_key_id")


def _log_group_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    yield from _key_problem(r.inputs.get("kmsKeyId"), "log group kms_key_id")


def _launch_template_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    mappings = r.inputs.get("blockDeviceMappings") or []
    if not mappings:
        yield "launch template leaves the root volume to AMI defaults; map it with ebs encrypted and the tenant key"
    for mapping in mappings:
        ebs = (mapping or {}).get("ebs") or {}
        if not _true(ebs.get("encrypted")):
            yield f"launch template volume {mapping.get('deviceName')} is not encrypted; set ebs encrypted='true'"
        yield from _key_problem(ebs.get("kmsKeyId"), f"launch template volume {mapping.get('deviceName')} kms_key_id")


def _key_rotates(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not _true(r.inputs.get("enableKeyRotation")):
        yield "KMS key rotation is off; set enable_key_rotation=True"


# --- TLS in transit ------------------------------------------------------------------------------


def _cache_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not _true(r.inputs.get("transitEncryptionEnabled")):
        yield "ElastiCache TLS is off; set transit_encryption_enabled=True"
    elif r.inputs.get("transitEncryptionMode", "required") != "required":
        yield "ElastiCache still accepts plaintext; set transit_encryption_mode='required'"


def _mysql_params_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if not str(r.inputs.get("family", "")).startswith("mysql"):
        return
    values = {p.get("name"): str(p.get("value")).upper() for p in r.inputs.get("parameters") or []}
    if values.get("require_secure_transport") not in ("1", "ON"):
        yield "MySQL parameter group does not set require_secure_transport=1; add it"


def _rds_uses_tls_params(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    group = r.inputs.get("parameterGroupName")
    if r.inputs.get("engine") == "mysql" and (not group or str(group).startswith("default.")):
        yield "RDS MySQL uses the default parameter group (TLS optional); use one with require_secure_transport=1"


def _bucket_policy_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    for statement in _statements(r.inputs.get("policy")):
        condition = statement.get("Condition") or {}
        if statement.get("Effect") == "Deny" and (condition.get("Bool") or {}).get("aws:SecureTransport") == "false":
            return
    yield "bucket policy does not deny aws:SecureTransport=false; add the TLS-only deny statement"


def _listener_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("protocol") not in ("TLS", "HTTPS"):
        yield f"load balancer listener speaks {r.inputs.get('protocol')}; use TLS (or HTTPS) with the ACM certificate"
    if not r.inputs.get("certificateArn") or not r.inputs.get("sslPolicy"):
        yield "TLS listener needs certificate_arn and an explicit ssl_policy"


# --- deletion protection -------------------------------------------------------------------------


def _protected(what: str) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
        if ctx.deletion_protection and not r.protect:
            yield f"{what} is not protected; create it with ctx.opts(stateful=True) so pulumi destroy refuses it"

    return check


def retention_words(value: Any, default: str) -> str:
    """A retention setting as the operator should read it: the value itself when it is set (0 is 0), the
    service's default when it is not."""
    return default if value is None else str(value)


def _rds_deletion(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if _true(r.inputs.get("skipFinalSnapshot")) or not r.inputs.get("finalSnapshotIdentifier"):
        yield "RDS instance would be deleted without a final snapshot; set skip_final_snapshot=False and a name"
    retention = r.inputs.get("backupRetentionPeriod")
    if not isinstance(retention, int | float) or retention < MIN_BACKUP_DAYS:
        # Unset means RDS's default of 1 day; 0 disables backups and point-in-time recovery.
        days = retention_words(retention, "the default 1")
        yield f"RDS keeps backups {days} day(s); set backup_retention_period >= {MIN_BACKUP_DAYS}"
    if ctx.deletion_protection and not _true(r.inputs.get("deletionProtection")):
        yield "RDS deletion protection is off while the spec requires it; set deletion_protection=True"
    yield from _protected("the RDS instance")(r, ctx)


def _eks_deletion(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if ctx.deletion_protection and not _true(r.inputs.get("deletionProtection")):
        yield "EKS deletion protection is off while the spec requires it; set deletion_protection=True"


def _key_deletion(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if int(r.inputs.get("deletionWindowInDays") or 30) < 30:
        yield "KMS key deletion window is shorter than 30 days; set deletion_window_in_days=30"
    yield from _protected("the KMS key")(r, ctx)


def _bucket_deletion(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if _true(r.inputs.get("forceDestroy")):
        yield "bucket has force_destroy=True, which deletes every object with it; set it to False"
    yield from _protected("the bucket")(r, ctx)


def _object_lock(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    retention = ((r.inputs.get("rule") or {}).get("defaultRetention")) or {}
    if not (retention.get("days") or retention.get("years")):
        yield "audit bucket Object Lock has no default retention; set a default_retention in days"
    if ctx.deletion_protection and retention.get("mode") != "COMPLIANCE":
        yield "audit log retention must be COMPLIANCE mode while deletion protection is on"


# --- private cluster endpoint --------------------------------------------------------------------


def _eks_private(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    vpc = r.inputs.get("vpcConfig") or {}
    if not _true(vpc.get("endpointPrivateAccess")):
        yield "EKS private endpoint is off; set vpc_config endpoint_private_access=True"
    if vpc.get("endpointPublicAccess") is False or vpc.get("endpointPublicAccess") == "false":
        return
    ranges = vpc.get("publicAccessCidrs") or []
    beyond = cidrs.outside(ranges, ctx.cluster_api_cidrs) if ranges else "0.0.0.0/0 (the whole internet)"
    if beyond:
        yield (
            f"EKS API endpoint is public to {beyond} (public_access_cidrs defaults to 0.0.0.0/0); "
            "set endpoint_public_access=False or restrict public_access_cidrs to the allow list"
        )


# --- no open ingress -----------------------------------------------------------------------------


def _sources_beyond(ctx: PolicyContext, rule: Mapping[str, Any], *lists: Any) -> str | None:
    """What the union of the CIDR sources admits beyond the allow list and the tenant's own networks (and, on
    port 443 alone, where the cluster API is served, the spec's operator ranges)."""
    sources = [c for values in lists for c in ([values] if isinstance(values, str) else values or [])]
    https_only = rule.get("fromPort") == TLS_PORT and rule.get("toPort") == TLS_PORT
    trusted = ctx.cluster_api_cidrs if https_only else ctx.trusted_cidrs
    return cidrs.outside(sources, trusted) if sources else None


_OPEN_MESSAGE = (
    "security group {what} admits {beyond}, beyond the allow list and the tenant's networks; on AWS the "
    "listener's allow list is managed from loadBalancerSourceRanges, so program-managed groups may only admit "
    "named groups or the tenant's CIDRs"
)


def _sg_inline(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    for rule in r.inputs.get("ingress") or []:
        if beyond := _sources_beyond(ctx, rule, rule.get("cidrBlocks"), rule.get("ipv6CidrBlocks")):
            yield _OPEN_MESSAGE.format(what=f"{r.name} (inline rule, port {rule.get('fromPort')})", beyond=beyond)


def _sg_rule(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if r.inputs.get("type") != "ingress":
        return
    if beyond := _sources_beyond(ctx, r.inputs, r.inputs.get("cidrBlocks"), r.inputs.get("ipv6CidrBlocks")):
        yield _OPEN_MESSAGE.format(what=f"rule {r.name}", beyond=beyond)


def _sg_ingress_rule(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if beyond := _sources_beyond(ctx, r.inputs, r.inputs.get("cidrIpv4"), r.inputs.get("cidrIpv6")):
        yield _OPEN_MESSAGE.format(what=f"rule {r.name}", beyond=beyond)


# --- least privilege -----------------------------------------------------------------------------


def _wildcard_action(action: str) -> bool:
    """`*`, `s3:*` and `s3:Get*`-style patterns name every action they match, now and in future
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    return "*" in action or "?" in action


# Actions that support no resource-level permission, so a statement granting them must say `Resource: "*"`:
# the Service Authorization Reference lists no resource type for them (Amazon EC2 Auto Scaling,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html; Amazon
# EC2, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html). Only read-only
# ones the stack needs (the Cluster Autoscaler's discovery calls) are listed; every other action must name its
# resources.
UNSCOPED_READ_ACTIONS = frozenset(
    {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:GetInstanceTypesFromInstanceRequirements",
    }
)


def _identity_policy_problems(document: Any, what: str) -> Iterator[str]:
    """An Allow statement must name its actions and its resources: no wildcard action, no `Resource: "*"`
    (every resource of the account, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html)
    except for actions that have no resource-level permission, and no NotAction / NotResource, which allow
    everything not listed (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html)."""
    if isinstance(document, str) and document != UNKNOWN and not _statements(document):
        yield f"{what} is not a policy document with statements"
        return
    for index, s in enumerate(_statements(document)):
        if s.get("Effect") != "Allow":
            continue
        sid = s.get("Sid") or f"statement {index}"
        actions = _listed(s.get("Action"))
        if "NotAction" in s or "NotResource" in s:
            yield f"{what} {sid} allows with NotAction/NotResource (everything not listed); name actions and resources"
        if wild := [a for a in actions if _wildcard_action(a)]:
            yield f"{what} {sid} allows wildcard actions {wild}; list the actions the role needs"
        scoped = [a for a in actions if a not in UNSCOPED_READ_ACTIONS]
        if "*" in _listed(s.get("Resource")) and (scoped or not actions):
            yield f"{what} {sid} allows {scoped or 'its actions'} on Resource '*'; name the tenant's resources"


def _inline_policy_least(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    yield from _identity_policy_problems(r.inputs.get("policy"), f"policy {r.name}")


def _attachment_least(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    arn = r.inputs.get("policyArn")
    if arn in ADMIN_MANAGED_POLICIES:
        yield f"{arn} grants administration; attach a policy that names the actions and resources needed"


def _role_least(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if admin := sorted(set(_listed(r.inputs.get("managedPolicyArns"))) & ADMIN_MANAGED_POLICIES):
        yield f"role {r.name} has administrator policies {admin}; attach least-privilege policies"
    for inline in r.inputs.get("inlinePolicies") or []:
        if isinstance(inline, Mapping):
            yield from _identity_policy_problems(inline.get("policy"), f"role {r.name}")


def _bucket_policy_least(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    for s in _statements(r.inputs.get("policy")):
        if s.get("Effect") == "Allow" and [a for a in _listed(s.get("Action")) if _wildcard_action(a)]:
            yield "bucket policy allows wildcard actions; list the actions each principal needs"


def _key_policy_least(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    """`kms:*` for the account root is AWS's default key policy, which hands the key's administration to
    IAM (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html); any other principal
    with a wildcard action administers the key outside IAM. `Resource: "*"` in a key policy means "this key"
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html), so it is not checked."""
    for s in _statements(r.inputs.get("policy")):
        if s.get("Effect") != "Allow" or not [a for a in _listed(s.get("Action")) if a == "*" or a.endswith(":*")]:
            continue
        if others := [p for p in _principals(s) if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:root", p)]:
            yield f"key policy gives a wildcard action to {others}, not the account root"


# --- nothing shared with another tenant ----------------------------------------------------------


def _owned_name(value: Any, tenant: str) -> bool:
    """`<tenant>-...` at the start of the name or of any path segment (alias/<tenant>-key,
    /aws/eks/<tenant>-eks/cluster), or an ARN / id ending in such a segment."""
    return isinstance(value, str) and re.search(rf"(^|[/:]){re.escape(tenant)}-", value) is not None


def _names_owned(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    for field in NAME_FIELDS:
        value = r.inputs.get(field)
        if value is not None and not _owned_name(value, ctx.tenant):
            yield f"{field}={value!r} is not this tenant's; name it via ctx.name(...) ('{ctx.tenant}-...')"


def _no_public_key_policy(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    for s in _statements(r.inputs.get("policy")):
        if s.get("Effect") == "Allow" and "*" in _principals(s):
            yield "key policy allows Principal '*'; grant named principals only"


def _role_trust_owned(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    for s in _statements(r.inputs.get("assumeRolePolicy")):
        if s.get("Effect") == "Allow" and "*" in _principals(s):
            yield "role trust policy allows Principal '*'; trust a named service, role or OIDC provider"
    yield from _names_owned(r, ctx)


def _endpoint_service_owned(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """Allowed principals may be `*` (every AWS principal) or ARNs with wildcards
    (https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html#add-remove-permissions);
    only the spec's consumer accounts may be listed."""
    principals = _listed(r.inputs.get("allowedPrincipals"))
    if any("*" in p for p in principals):
        yield "endpoint service allows every AWS principal ('*'); list the consumers in private_link_consumers"
    accounts = {m.group(1) if (m := _ACCOUNT_IN_ARN.match(p)) else p for p in principals if "*" not in p}
    if beyond := sorted(accounts - set(ctx.private_link_consumers)):
        yield f"endpoint service allows {beyond}, not among the spec's private_link_consumers"
    if not _true(r.inputs.get("acceptanceRequired")):
        yield "endpoint service accepts connections automatically; set acceptance_required=True"


# --- audit trail ---------------------------------------------------------------------------------


def _trail_validated(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    """Log file validation writes signed digest files, so a deleted or altered log file is detectable
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html).
    A single-Region trail records only its own Region's events: an attacker acting in another Region leaves
    no record ("Working with multiple Regions": a multi-Region trail records every Region's events, including
    Regions added later, https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-multi-region-trails.html)."""
    if not _true(r.inputs.get("enableLogFileValidation")):
        yield "CloudTrail log file validation is off; set enable_log_file_validation=True"
    if r.inputs.get("enableLogging") is False:
        yield "CloudTrail logging is off; set enable_logging=True"
    if not _true(r.inputs.get("isMultiRegionTrail")):
        yield "CloudTrail records one Region only; set is_multi_region_trail=True so every Region's events are kept"
    if not _true(r.inputs.get("includeGlobalServiceEvents", True)):
        yield "CloudTrail leaves out global service events (IAM, STS); set include_global_service_events=True"


# RDS for MySQL records logins and DDL/DCL statements with the MariaDB Audit Plugin option
# (MARIADB_AUDIT_PLUGIN, offered for every MySQL 8.4 version: "Options for MySQL DB instances",
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.html), and publishes the audit
# log to CloudWatch Logs when "audit" is among the exported log types
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html).
AUDIT_PLUGIN = "MARIADB_AUDIT_PLUGIN"


def _rds_audit_log(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("engine") != "mysql":
        return
    if "audit" not in _listed(r.inputs.get("enabledCloudwatchLogsExports")):
        yield "RDS MySQL does not export its audit log; add 'audit' to enabled_cloudwatch_logs_exports"
    group = r.inputs.get("optionGroupName")
    if not group or str(group).startswith("default:"):
        yield f"RDS MySQL has no option group with {AUDIT_PLUGIN}; the audit log records nothing without it"


def _audit_option_group(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("engineName") != "mysql":
        return
    options = {str(o.get("optionName")): o for o in r.inputs.get("options") or [] if isinstance(o, Mapping)}
    plugin = options.get(AUDIT_PLUGIN)
    if plugin is None:
        yield f"MySQL option group has no {AUDIT_PLUGIN}; add it with SERVER_AUDIT_EVENTS"
        return
    settings = {str(s.get("name")): str(s.get("value")) for s in plugin.get("optionSettings") or []}
    events = {e.strip().upper() for e in settings.get("SERVER_AUDIT_EVENTS", "").split(",") if e.strip()}
    missing = {"CONNECT", "QUERY_DDL", "QUERY_DCL"} - events
    if "QUERY" in events:  # every query, DDL and DCL included
        missing -= {"QUERY_DDL", "QUERY_DCL"}
    if missing:
        yield f"{AUDIT_PLUGIN} does not record {sorted(missing)}; set SERVER_AUDIT_EVENTS=CONNECT,QUERY_DDL,QUERY_DCL"


# --- graph checks ----------------------------------------------------------------------------------

TENANT_KEY_REFERENCES = tuple(
    Reference(source, path, (KMS_KEY,), "the tenant key")
    for source, path in (
        (RDS, "kmsKeyId"),
        (CACHE, "kmsKeyId"),
        (BUCKET_SSE, "rules.*.applyServerSideEncryptionByDefault.kmsMasterKeyId"),
        (EKS, "encryptionConfig.provider.keyArn"),
        (TRAIL, "kmsKeyId"),
        (LOG_GROUP, "kmsKeyId"),
        (LAUNCH_TEMPLATE, "blockDeviceMappings.*.ebs.kmsKeyId"),
    )
)
SECURITY_GROUPS = (SG, DEFAULT_SG)
OWN_REFERENCES = tuple(
    Reference(source, path, targets, what)
    for source, path, targets, what in (
        (RDS, "dbSubnetGroupName", (SUBNET_GROUP,), "the tenant's DB subnet group"),
        (RDS, "parameterGroupName", (RDS_PARAMS,), "the tenant's parameter group"),
        (RDS, "optionGroupName", (OPTION_GROUP,), "the tenant's option group"),
        (RDS, "vpcSecurityGroupIds.*", SECURITY_GROUPS, "a tenant security group"),
        (CACHE, "subnetGroupName", (CACHE_SUBNET_GROUP,), "the tenant's cache subnet group"),
        (CACHE, "securityGroupIds.*", SECURITY_GROUPS, "a tenant security group"),
        (NODE_GROUP, "clusterName", (EKS,), "the tenant's cluster"),
        (NODE_GROUP, "nodeRoleArn", (ROLE,), "a tenant role"),
        (ROLE_POLICY, "role", (ROLE,), "a tenant role"),
        (ROLE_POLICY_ATTACHMENT, "role", (ROLE,), "a tenant role"),
        (SG_INGRESS, "securityGroupId", SECURITY_GROUPS, "a tenant security group"),
        (SG_INGRESS, "referencedSecurityGroupId", SECURITY_GROUPS, "a tenant security group"),
        (SG_EGRESS, "securityGroupId", SECURITY_GROUPS, "a tenant security group"),
        (SG_EGRESS, "referencedSecurityGroupId", SECURITY_GROUPS, "a tenant security group"),
        (ALIAS, "targetKeyId", (KMS_KEY,), "the tenant key"),
        (KMS_KEY_POLICY, "keyId", (KMS_KEY,), "the tenant key"),
        (TRAIL, "s3BucketName", (BUCKET,), "a tenant bucket"),
        (BUCKET_SSE, "bucket", (BUCKET,), "a tenant bucket"),
        (BUCKET_POLICY, "bucket", (BUCKET,), "a tenant bucket"),
        (BUCKET_BLOCK, "bucket", (BUCKET,), "a tenant bucket"),
        (BUCKET_LOCK, "bucket", (BUCKET,), "a tenant bucket"),
    )
)


BUCKET_COMPANIONS = (
    Companion(Rule.ENCRYPTION_AT_REST, BUCKET, BUCKET_SSE, "bucket", "SSE-KMS encryption configuration", _bucket_sse),
    Companion(
        Rule.TLS_IN_TRANSIT,
        BUCKET,
        BUCKET_POLICY,
        "bucket",
        "bucket policy denying non-TLS requests",
        _bucket_policy_tls,
    ),
    Companion(
        Rule.NO_PUBLIC_DATA,
        BUCKET,
        BUCKET_BLOCK,
        "bucket",
        "public access block with all four settings on",
        _public_access_block,
    ),
)


def _arn_account(arn: str) -> str | None:
    """The account field of an ARN (`arn:partition:service:region:account:resource`)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else None


_ASG_ARN = re.compile(
    r"^arn:aws[a-z-]*:autoscaling:[a-z0-9-]*:\d{12}:autoScalingGroup:[^:]*:autoScalingGroupName/(.+)$"
)


def _autoscaling_groups(graph: Graph) -> set[str]:
    """The Auto Scaling groups of the stack's managed node groups (EKS names them; the node group reports them)."""
    return {
        str(group.get("name"))
        for v in graph.of_type(NODE_GROUP)
        for resources in v.state.get("resources") or []
        if isinstance(resources, Mapping)
        for group in resources.get("autoscalingGroups") or []
        if isinstance(group, Mapping) and group.get("name")
    }


def _grants_name_own_resources(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """Every resource ARN an identity policy grants is a resource of this stack (or under one: `<bucket
    ARN>/*`; the Auto Scaling group of its node group), the spec's customer bucket or key, or in the spec's BYOB
    customer account (the role the customer's trust policy and ExternalId admit): a grant on another tenant's
    bucket is caught even when its name starts with this tenant's (`acme-corp-data` for tenant `acme`)."""
    owned = {i for i in graph.identifiers(*{v.type for v in graph.views}) if i.startswith("arn:")}
    groups = _autoscaling_groups(graph)
    external = [
        e for e in (ctx.customer_managed_key, ctx.external_bucket and f"arn:aws:s3:::{ctx.external_bucket}") if e
    ]
    for view in graph.of_type(*IDENTITY_POLICIES):
        for s in _statements(view.inputs.get("policy")):
            for arn in _listed(s.get("Resource")):
                in_customer_account = ctx.external_account is not None and _arn_account(arn) == ctx.external_account
                own_group = (m := _ASG_ARN.match(arn)) is not None and m.group(1) in groups
                if arn in ("*", UNKNOWN) or in_customer_account or own_group or owned_arn(arn, [*owned, *external]):
                    continue
                yield violation(
                    Rule.NO_CROSS_TENANT_SHARING,
                    view,
                    f"grants access to {arn}, which is not a resource of this stack or named by the spec",
                )


_SERVICE_LINKED_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/aws-service-role/")
_ACCOUNT_ROOT = re.compile(r"^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$")
_ACCOUNT_OF_PRINCIPAL = re.compile(r"^(?:(\d{12})|arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.*)$")
POLICY_DOCUMENTS = (
    (KMS_KEY, "policy"),
    (KMS_KEY_POLICY, "policy"),
    (BUCKET_POLICY, "policy"),
    (ROLE, "assumeRolePolicy"),
)
# Condition keys naming the account a request comes from or acts for: a grant to `*` or to a service pinned to
# another account's value of one of them is a grant to that account ("AWS global condition context keys",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
ACCOUNT_CONDITION_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner"})
RESOURCE_POLICIES = ((KMS_KEY, "policy"), (KMS_KEY_POLICY, "policy"), (BUCKET_POLICY, "policy"))


def _principals_own(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """The IAM roles, users and identity providers a key, bucket or trust policy admits are this stack's
    (accounts are checked by `_no_other_account`; AWS service-linked roles belong to the account): in an
    account shared by tenants, `role/acme-corp-gateway` is another tenant's role."""
    owned = graph.identifiers(ROLE, "aws:iam/user:User", "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    for type_token, field in POLICY_DOCUMENTS:
        for view in graph.of_type(type_token):
            for s in _statements(view.inputs.get(field)):
                principal = s.get("Principal")
                if s.get("Effect") != "Allow" or not isinstance(principal, Mapping):
                    continue
                named = [*_listed(principal.get("AWS")), *_listed(principal.get("Federated"))]
                for p in named:
                    if p in ("*", UNKNOWN) or _ACCOUNT_ROOT.match(p) or _SERVICE_LINKED_ROLE.match(p) or p in owned:
                        continue
                    yield violation(
                        Rule.NO_CROSS_TENANT_SHARING,
                        view,
                        f"{field} admits {p}, which is not a principal of this stack",
                    )


def stack_accounts(graph: Graph, ctx: PolicyContext) -> set[str]:
    """The account the stack deploys into: the spec's, else the account in the ARNs of the keys and roles it
    created (their ARNs carry the account they live in)."""
    if ctx.account:
        return {ctx.account}
    return {
        account
        for v in graph.of_type(KMS_KEY, ROLE)
        if isinstance(arn := v.state.get("arn"), str) and (account := _arn_account(arn))
    }


def _granted_accounts(statement: Mapping[str, Any]) -> set[str]:
    """Accounts an Allow statement grants: its principals' accounts and the accounts its conditions pin."""
    accounts = {m.group(1) or m.group(2) for p in _principals(statement) if (m := _ACCOUNT_OF_PRINCIPAL.match(p))}
    conditions = statement.get("Condition") or {}
    for operator, entries in conditions.items() if isinstance(conditions, Mapping) else ():
        if not isinstance(entries, Mapping) or operator.startswith(("StringNot", "ArnNot")):
            continue
        for key, values in entries.items():
            if key.lower() in ACCOUNT_CONDITION_KEYS:
                accounts |= {v for v in _listed(values) if re.fullmatch(r"\d{12}", v)}
    return accounts


def _no_other_account(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """A key or bucket policy of the stack grants nothing to another AWS account, by principal or by an
    account condition: the tenant's data and keys stay in the tenant's account ("Allowing users in other
    accounts to use a KMS key", https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html;
    S3 "Bucket owner granting cross-account bucket permissions",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html)."""
    own = stack_accounts(graph, ctx)
    if not own:
        return
    for type_token, field in RESOURCE_POLICIES:
        for view in graph.of_type(type_token):
            for index, s in enumerate(_statements(view.inputs.get(field))):
                if s.get("Effect") != "Allow":
                    continue
                if foreign := sorted(_granted_accounts(s) - own):
                    sid = s.get("Sid") or f"statement {index}"
                    yield violation(
                        Rule.NO_CROSS_TENANT_SHARING,
                        view,
                        f"{field} {sid} grants account(s) {', '.join(foreign)}, not the stack's account "
                        f"{', '.join(sorted(own))}",
                    )


# Security-group rules may take their sources from a managed prefix list instead of CIDRs; the list's entries
# are the sources ("Managed prefix lists", https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html).
# The stack's own lists are judged by their entries (inline `entries` and ManagedPrefixListEntry resources, as
# a union, so 0.0.0.0/1 + 128.0.0.0/1 is the internet); a list the stack does not manage (an AWS-managed one,
# such as CloudFront's origin-facing list, or another account's) cannot be checked and fails closed.
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"


def _prefix_list_entries(graph: Graph) -> dict[str, list[str]]:
    """Every identifier of each of the stack's prefix lists -> the CIDRs it holds."""
    entries: dict[str, list[str]] = {}
    for plist in graph.of_type(PREFIX_LIST):
        held = [str(e.get("cidr")) for e in plist.inputs.get("entries") or [] if isinstance(e, Mapping)]
        names = graph.identifiers_of(plist)
        held += [
            str(e.inputs.get("cidr"))
            for e in graph.of_type(PREFIX_LIST_ENTRY)
            if e.inputs.get("prefixListId") in names or plist.urn in e.property_dependencies.get("prefixListId", ())
        ]
        for name in (*names, plist.urn):
            entries[name] = held
    return entries


def _ingress_prefix_lists(view: ResourceView) -> Iterator[tuple[Mapping[str, Any], list[str]]]:
    """(rule, prefix list ids) of every ingress rule of a group or rule resource."""
    if view.type == SG_INGRESS and view.inputs.get("prefixListId"):
        yield view.inputs, [str(view.inputs["prefixListId"])]
    elif view.type == SG_RULE and view.inputs.get("type") == "ingress":
        yield view.inputs, _listed(view.inputs.get("prefixListIds"))
    elif view.type in (SG, DEFAULT_SG):
        for rule in view.inputs.get("ingress") or []:
            if isinstance(rule, Mapping):
                yield rule, _listed(rule.get("prefixListIds"))


def _prefix_lists_open(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    lists = _prefix_list_entries(graph)
    for view in graph.of_type(SG_INGRESS, SG_RULE, SG, DEFAULT_SG):
        for rule, ids in _ingress_prefix_lists(view):
            for plist in ids:
                if plist == UNKNOWN and view.property_dependencies.get("prefixListId"):
                    by_urn = [
                        v for v in graph.of_type(PREFIX_LIST) if v.urn in view.property_dependencies["prefixListId"]
                    ]
                    held: list[str] | None = [c for v in by_urn for c in lists.get(v.urn, [])] if by_urn else None
                else:
                    held = lists.get(plist)
                if held is None:
                    yield violation(
                        Rule.NO_OPEN_INGRESS,
                        view,
                        f"admits the prefix list {plist}, which this stack does not manage, so its entries cannot "
                        "be checked; use the stack's own prefix list or CIDRs",
                    )
                elif beyond := _sources_beyond(ctx, rule, held):
                    yield violation(
                        Rule.NO_OPEN_INGRESS,
                        view,
                        _OPEN_MESSAGE.format(what=f"rule {view.name} (prefix list {plist})", beyond=beyond),
                    )


def _audit_trail_exists(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """The stack has a validated trail, and the bucket it writes to has an Object Lock configuration (an
    omission of either leaves no tamper-evident record); each RDS MySQL instance's option group carries the
    audit plugin."""
    trails = graph.of_type(TRAIL)
    anchor = next(iter(graph.of_type(KMS_KEY, EKS, BUCKET)), None)
    if not trails and anchor is not None:
        yield violation(Rule.AUDIT_TRAIL, anchor, "the stack has no CloudTrail trail; add one with log file validation")
    locked = {str(v.inputs.get("bucket")) for v in graph.of_type(BUCKET_LOCK)}
    for trail in trails:
        bucket = trail.inputs.get("s3BucketName")
        buckets = [b for b in graph.of_type(BUCKET) if bucket in graph.identifiers_of(b)]
        if not any(graph.identifiers_of(b) & locked for b in buckets):
            yield violation(Rule.AUDIT_TRAIL, trail, f"trail bucket {bucket!r} has no Object Lock configuration")
    audited = {
        name
        for g in graph.of_type(OPTION_GROUP)
        if not list(_audit_option_group(g, ctx))
        for name in graph.identifiers_of(g)
    }
    for db in graph.of_type(RDS):
        group = db.inputs.get("optionGroupName")
        if db.inputs.get("engine") == "mysql" and group not in audited and group != UNKNOWN:
            yield violation(Rule.AUDIT_TRAIL, db, f"option group {group!r} is not this stack's with {AUDIT_PLUGIN}")


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
        Rule.LEAST_PRIVILEGE: {
            **dict.fromkeys(IDENTITY_POLICIES, _inline_policy_least),
            **dict.fromkeys(POLICY_ATTACHMENTS, _attachment_least),
            ROLE: _role_least,
            BUCKET_POLICY: _bucket_policy_least,
            KMS_KEY_POLICY: _key_policy_least,
            KMS_KEY: _key_policy_least,
        },
        Rule.AUDIT_TRAIL: {TRAIL: _trail_validated, RDS: _rds_audit_log, OPTION_GROUP: _audit_option_group},
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
            KMS_KEY: _no_public_key_policy,
            KMS_KEY_POLICY: _no_public_key_policy,
            ENDPOINT_SERVICE: _endpoint_service_owned,
        },
    },
    taggable_types=TAGGABLE_TYPES,
    tag_field="tags",
    graph_checks=(
        tenant_key_check(TENANT_KEY_REFERENCES),
        reference_check(Rule.NO_CROSS_TENANT_SHARING, OWN_REFERENCES, lambda ctx: (ctx.external_bucket or "",)),
        companion_check(BUCKET_COMPANIONS),
        _grants_name_own_resources,
        _principals_own,
        _no_other_account,
        _prefix_lists_open,
        _audit_trail_exists,
    ),
)
