"""Names of the AWS resources other parts must know before those resources exist: the key policy names the
trail and the log groups it admits; subnets carry the cluster's name in their tags. Part contexts share the
tenant's name prefix, so any part's context gives the same names."""

from __future__ import annotations

from infra.cloud import CloudContext


def cluster_name(actx: CloudContext) -> str:
    """The EKS cluster's name, known before the cluster exists: subnets and the node security group carry
    it in the `kubernetes.io/cluster/<name>` tag the cloud provider uses to place load balancers."""
    return actx.name("eks")


def trail_name(actx: CloudContext) -> str:
    return actx.name("trail")


def trail_arn(region: str, account_id: str, name: str) -> str:
    """A trail's ARN names its home region (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_Trail.html)."""
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{name}"


def flow_log_group_name(actx: CloudContext) -> str:
    return actx.name("vpc-flow-logs")


def eks_log_group_name(actx: CloudContext) -> str:
    """EKS writes control-plane logs to `/aws/eks/<cluster>/cluster`; created by the program (encrypted,
    retained) before the cluster (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html)."""
    return f"/aws/eks/{cluster_name(actx)}/cluster"


def database_identifier(actx: CloudContext) -> str:
    return actx.name("db")


# What RDS for MySQL exports to CloudWatch Logs (the audit log with the MariaDB Audit Plugin), each into
# `/aws/rds/instance/<identifier>/<type>` ("Publishing MySQL logs to Amazon CloudWatch Logs",
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.MySQLDB.PublishtoCloudWatchLogs.html).
# The program creates those groups first, encrypted with the tenant key and retained; RDS would otherwise create
# them itself, unencrypted and kept forever.
RDS_LOG_TYPES = ("audit", "error", "slowquery")


def rds_log_group_names(actx: CloudContext) -> tuple[str, ...]:
    return tuple(f"/aws/rds/instance/{database_identifier(actx)}/{kind}" for kind in RDS_LOG_TYPES)


def log_group_arn(region: str, account_id: str, name: str) -> str:
    """The log group ARN CloudWatch Logs puts in the KMS encryption context (`kms:EncryptionContext:aws:logs:arn`)."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"
