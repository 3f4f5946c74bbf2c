"""Computed outputs the AWS module reads, faked for the offline preview and tests (infra/mockrun.py):
ARNs carrying an account id, endpoints, the cluster's CA and OIDC issuer, the node group's ASG.
No invokes: everything else is derived from the spec or from these."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from infra.mockrun import OutputFaker

MOCK_ACCOUNT = "123456789012"
MOCK_REGION = "us-east-1"


def _region(inputs: Mapping[str, Any]) -> str:
    return str(inputs.get("region") or MOCK_REGION)


def _digest(name: str, size: int = 32) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:size]


def _key(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    d = _digest(name)
    key_id = f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
    return {"keyId": key_id, "arn": f"arn:aws:kms:{_region(inputs)}:{MOCK_ACCOUNT}:key/{key_id}"}


def _role(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    role = inputs.get("name", name)
    return {"arn": f"arn:aws:iam::{MOCK_ACCOUNT}:role/{role}", "name": role, "uniqueId": f"AROA{_digest(name, 16)}"}


def _cluster(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    region, cluster = _region(inputs), inputs.get("name", name)
    oidc_id = _digest(name).upper()
    return {
        "arn": f"arn:aws:eks:{region}:{MOCK_ACCOUNT}:cluster/{cluster}",
        "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(f"mock CA of {cluster}".encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}],
    }


def _node_group(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"resources": [{"autoscalingGroups": [{"name": f"eks-{name}-{_digest(name, 8)}"}]}]}


def _oidc_provider(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    url = str(inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/{url}"}


def _launch_template(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "latestVersion": 1,
        "arn": f"arn:aws:ec2:{_region(inputs)}:{MOCK_ACCOUNT}:launch-template/lt-{_digest(name, 17)}",
    }


def _log_group(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"arn": f"arn:aws:logs:{_region(inputs)}:{MOCK_ACCOUNT}:log-group:{inputs.get('name', name)}"}


def _bucket(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{_digest(name, 12)}"
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _database(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    address = f"{inputs.get('identifier', name)}.{_digest(name, 12)}.{_region(inputs)}.rds.amazonaws.com"
    return {"address": address, "endpoint": f"{address}:{inputs.get('port', 3306)}"}


def _cache(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    group = inputs.get("replicationGroupId", name)
    return {"primaryEndpointAddress": f"master.{group}.{_digest(name, 6)}.use1.cache.amazonaws.com"}


def _trail(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"arn": f"arn:aws:cloudtrail:{_region(inputs)}:{MOCK_ACCOUNT}:trail/{inputs.get('name', name)}"}


def _certificate(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    domain = inputs.get("domainName", "example.com")
    return {
        "arn": f"arn:aws:acm:{_region(inputs)}:{MOCK_ACCOUNT}:certificate/{_digest(name, 36)}",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_digest(name, 16)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(domain, 16)}.acm-validations.aws.",
            }
        ],
    }


def _load_balancer(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    lb, elb = inputs.get("name", name), f"arn:aws:elasticloadbalancing:{_region(inputs)}:{MOCK_ACCOUNT}"
    return {
        "arn": f"{elb}:loadbalancer/net/{lb}/{_digest(name, 16)}",
        "dnsName": f"{lb}-{_digest(name, 10)}.elb.{_region(inputs)}.amazonaws.com",
    }


def _target_group(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    tg = inputs.get("name", name)
    return {
        "arn": f"arn:aws:elasticloadbalancing:{_region(inputs)}:{MOCK_ACCOUNT}:targetgroup/{tg}/{_digest(name, 16)}"
    }


def _endpoint_service(_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"serviceName": f"com.amazonaws.vpce.{_region(inputs)}.vpce-svc-{_digest(name, 17)}"}


FAKERS: dict[str, OutputFaker] = {
    "aws:kms/key:Key": _key,
    "aws:iam/role:Role": _role,
    "aws:eks/cluster:Cluster": _cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:rds/instance:Instance": _database,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:ec2/vpcEndpointService:VpcEndpointService": _endpoint_service,
}

INVOKES: dict[str, OutputFaker] = {}
