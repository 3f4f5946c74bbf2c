"""Computed outputs the AWS module reads, faked for the offline preview and tests (infra/mockrun.py):
ARNs carrying an account id, endpoints, the cluster's CA and OIDC issuer, the node group's ASG.
One invoke, the account check's role listing (infra/aws/account.py); everything else is derived from the spec
or from these."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from infra.mockrun import MockPlace, OutputFaker


def _region(place: MockPlace, inputs: Mapping[str, Any]) -> str:
    """The resource's own region input if it has one, else the stack's (its provider's) region."""
    return str(inputs.get("region") or place.region)


def _region_code(region: str) -> str:
    """ElastiCache's short region code in endpoints: `eu-west-1` -> `euw1`, `ap-southeast-2` -> `apse2`."""
    area, direction, number = [*region.split("-"), "", ""][:3]
    short = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw", "central": "c"}
    return f"{area}{short.get(direction, direction[:1])}{number}"


def _digest(name: str, size: int = 32) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:size]


def _key(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    d = _digest(name)
    key_id = f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
    return {"keyId": key_id, "arn": f"arn:aws:kms:{_region(place, inputs)}:{place.account}:key/{key_id}"}


def _role(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    role, path = inputs.get("name", name), inputs.get("path", "/")
    arn = f"arn:aws:iam::{place.account}:role{path}{role}"
    return {"arn": arn, "name": role, "path": path, "uniqueId": f"AROA{_digest(name, 16)}"}


def _roles_in_fresh_account(place: MockPlace, _: str, __: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """ListRoles under a path prefix in the offline preview's stand-in account: a fresh account, no roles."""
    return {"id": place.account, "arns": [], "names": [], "pathPrefix": args.get("pathPrefix")}


def _cluster(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    region, cluster = _region(place, inputs), inputs.get("name", name)
    oidc_id = _digest(name).upper()
    return {
        "arn": f"arn:aws:eks:{region}:{place.account}:cluster/{cluster}",
        "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(f"mock CA of {cluster}".encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}],
    }


def _node_group(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    cluster, group = inputs.get("clusterName", "cluster"), inputs.get("nodeGroupName", name)
    arn = f"arn:aws:eks:{_region(place, inputs)}:{place.account}:nodegroup/{cluster}/{group}/{_digest(name, 8)}"
    return {"arn": arn, "resources": [{"autoscalingGroups": [{"name": f"eks-{name}-{_digest(name, 8)}"}]}]}


def _service_linked_role(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """AWS names a service-linked role after its service: `AWSServiceRoleFor<Service>` under its path."""
    service = str(inputs.get("awsServiceName", "autoscaling.amazonaws.com"))
    role = {"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling"}.get(service, f"AWSServiceRoleFor{name}")
    path = f"/aws-service-role/{service}/"
    return {"arn": f"arn:aws:iam::{place.account}:role{path}{role}", "name": role, "path": path}


def _addon(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    cluster, addon = inputs.get("clusterName", name), inputs.get("addonName", name)
    arn = f"arn:aws:eks:{_region(place, inputs)}:{place.account}:addon/{cluster}/{addon}/{_digest(name, 8)}"
    return {"arn": arn, "addonVersion": "v1.20.0-eksbuild.1"}


def _oidc_provider(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    url = str(inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{place.account}:oidc-provider/{url}"}


def _launch_template(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "latestVersion": 1,
        "arn": f"arn:aws:ec2:{_region(place, inputs)}:{place.account}:launch-template/lt-{_digest(name, 17)}",
    }


def _log_group(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"arn": f"arn:aws:logs:{_region(place, inputs)}:{place.account}:log-group:{inputs.get('name', name)}"}


def _bucket(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{_digest(name, 12)}"
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _database(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    address = f"{inputs.get('identifier', name)}.{_digest(name, 12)}.{_region(place, inputs)}.rds.amazonaws.com"
    return {"address": address, "endpoint": f"{address}:{inputs.get('port', 3306)}"}


def _cache(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    group = inputs.get("replicationGroupId", name)
    code = _region_code(_region(place, inputs))
    return {"primaryEndpointAddress": f"master.{group}.{_digest(name, 6)}.{code}.cache.amazonaws.com"}


def _trail(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"arn": f"arn:aws:cloudtrail:{_region(place, inputs)}:{place.account}:trail/{inputs.get('name', name)}"}


def _certificate(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    domain = inputs.get("domainName", "example.com")
    return {
        "arn": f"arn:aws:acm:{_region(place, inputs)}:{place.account}:certificate/{_digest(name, 36)}",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_digest(name, 16)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(domain, 16)}.acm-validations.aws.",
            }
        ],
    }


def _record(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"fqdn": str(inputs.get("name", name)).rstrip(".")}


def _load_balancer(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    lb, elb = inputs.get("name", name), f"arn:aws:elasticloadbalancing:{_region(place, inputs)}:{place.account}"
    return {
        "arn": f"{elb}:loadbalancer/net/{lb}/{_digest(name, 16)}",
        "dnsName": f"{lb}-{_digest(name, 10)}.elb.{_region(place, inputs)}.amazonaws.com",
    }


def _target_group(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    tg, elb = inputs.get("name", name), f"arn:aws:elasticloadbalancing:{_region(place, inputs)}:{place.account}"
    return {"arn": f"{elb}:targetgroup/{tg}/{_digest(name, 16)}"}


def _endpoint_service(place: MockPlace, _: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"serviceName": f"com.amazonaws.vpce.{_region(place, inputs)}.vpce-svc-{_digest(name, 17)}"}


FAKERS: dict[str, OutputFaker] = {
    "aws:kms/key:Key": _key,
    "aws:iam/role:Role": _role,
    "aws:eks/cluster:Cluster": _cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": _service_linked_role,
    "aws:eks/addon:Addon": _addon,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:rds/instance:Instance": _database,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:route53/record:Record": _record,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:ec2/vpcEndpointService:VpcEndpointService": _endpoint_service,
}

INVOKES: dict[str, OutputFaker] = {"aws:iam/getRoles:getRoles": _roles_in_fresh_account}
