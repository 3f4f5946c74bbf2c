"""The committed AWS kit's role and policies in moto's IAM-enforcing server: the platform principal assumes the
role with the tenant's ExternalId and not with another, and no other principal can; the role reaches objects
under the tenant's prefix and nothing outside it; `access_enabled = false` takes the permission away from
sessions already open, and the storage connector's probe marks the grant revoked by the customer.

What moto cannot show (docs/byob.md): it lets AssumeRole without an ExternalId through (AWS does not: a
StringEquals condition on a key absent from the request is false), ignores StringLike conditions (the listing
limit to the prefix), bucket policies and KMS key policies; those are asserted on the JSON in test_aws_kit.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from audit.events import SYSTEM_ACTOR, utc_now
from enclave.runtime import Runtime
from storage_connector.backends import parse_spec
from storage_connector.factory import PlatformCredentials, Signers
from storage_connector.grants import Grant, GrantStatus
from storage_connector.probe import GrantProber
from storage_connector.revocation import GrantStates
from storage_connector.s3 import S3Signer, session_name
from storage_connector.service import StorageService
from storage_connector.signer import ProbeStatus
from tests.infra.byob.aws_apply import ACCOUNT, AppliedKit
from tests.storage_connector.servers import moto_server

REGION = "eu-west-1"
SETUP_ACTIONS = 9


@dataclass
class Cloud:
    endpoint: str
    keys: dict[str, dict[str, str]]  # platform / customer / stranger

    def client(self, service: str, who: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint, **self.keys[who])


def _assume_anything() -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with moto_server(SETUP_ACTIONS) as endpoint:
        setup = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint, **setup)
        keys = {}
        admin = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        )
        # The platform (the tenant stack's gateway identity may assume roles), customer IT (applies the kit),
        # and a stranger: another principal that may assume roles but is not the one the kit trusts.
        for who, policy in (("platform", _assume_anything()), ("customer", admin), ("stranger", _assume_anything())):
            iam.create_user(UserName=who)
            key = iam.create_access_key(UserName=who)["AccessKey"]
            keys[who] = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
            iam.put_user_policy(UserName=who, PolicyName="base", PolicyDocument=policy)
        yield Cloud(endpoint, keys)


def applied_kit(cloud: Cloud, external_id: str) -> AppliedKit:
    tenant = "t" + uuid.uuid4().hex[:8]  # a fresh tenant (role, bucket) per test on the shared server
    applied = AppliedKit(
        cloud.client("iam", "customer"),
        cloud.client("s3", "customer"),
        cloud.client("kms", "customer"),
        {
            "tenant": tenant,
            "region": REGION,
            "bucket_name": f"{tenant}-data",
            "prefix": f"tenants/{tenant}/",
            "platform_principal_arn": f"arn:aws:iam::{ACCOUNT}:user/platform",
            "external_id": external_id,
            "gateway_url": "https://acme.enclave.example.com",
        },
    )
    applied.apply()
    return applied


@pytest.fixture
def kit(cloud: Cloud) -> AppliedKit:
    return applied_kit(cloud, uuid.uuid4().hex)  # the kit's own checks need no Enclave to have generated it


def _assume(cloud: Cloud, kit: AppliedKit, who: str = "platform", **overrides: Any) -> dict[str, Any]:
    values = {
        "RoleArn": kit.role_arn,
        "RoleSessionName": session_name(kit.variables["tenant"]),
        "ExternalId": kit.variables["external_id"],
        **overrides,
    }
    return dict(cloud.client("sts", who).assume_role(**values)["Credentials"])


def _s3(cloud: Cloud, credentials: dict[str, Any]) -> Any:
    return _session(cloud, credentials, "s3")


def _session(cloud: Cloud, credentials: dict[str, Any], service: str) -> Any:
    """A client acting as the assumed-role session."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=cloud.endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    assert refused.value.response["Error"]["Code"] in ("AccessDenied", "403"), refused.value.response


def test_the_platform_assumes_the_role_with_the_tenants_external_id(cloud: Cloud, kit: AppliedKit) -> None:
    credentials = _assume(cloud, kit)
    identity = cloud.client("sts", "platform").get_caller_identity()
    assert identity["Arn"].endswith(":user/platform")
    session = _session(cloud, credentials, "sts").get_caller_identity()
    assert session["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{kit.role_name}/enclave-{kit.variables['tenant']}"


def test_another_external_id_is_refused(cloud: Cloud, kit: AppliedKit) -> None:
    _denied(
        cloud.client("sts", "platform").assume_role,
        RoleArn=kit.role_arn,
        RoleSessionName=session_name(kit.variables["tenant"]),
        ExternalId="another-tenants-external-id",
    )


def test_no_other_principal_may_assume_the_role_even_with_the_external_id(cloud: Cloud, kit: AppliedKit) -> None:
    _denied(
        cloud.client("sts", "stranger").assume_role,
        RoleArn=kit.role_arn,
        RoleSessionName=session_name(kit.variables["tenant"]),
        ExternalId=kit.variables["external_id"],
    )


def test_the_role_reaches_the_prefix_and_nothing_outside_it(cloud: Cloud, kit: AppliedKit) -> None:
    s3 = _s3(cloud, _assume(cloud, kit))
    bucket, prefix = kit.variables["bucket_name"], kit.variables["prefix"]
    s3.put_object(Bucket=bucket, Key=f"{prefix}in/report.pdf", Body=b"inside")
    assert s3.get_object(Bucket=bucket, Key=f"{prefix}in/report.pdf")["Body"].read() == b"inside"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=f"{prefix}big.bin")
    s3.abort_multipart_upload(Bucket=bucket, Key=f"{prefix}big.bin", UploadId=upload["UploadId"])
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 1
    customer = cloud.client("s3", "customer")
    customer.put_object(Bucket=bucket, Key="finance/ledger.csv", Body=b"not yours")
    _denied(s3.get_object, Bucket=bucket, Key="finance/ledger.csv")
    _denied(s3.put_object, Bucket=bucket, Key="finance/planted.csv", Body=b"x")
    _denied(s3.put_object, Bucket=bucket, Key=f"{prefix.rstrip('/')}-sibling/x", Body=b"x")  # a look-alike prefix
    _denied(s3.delete_object, Bucket=bucket, Key=f"{prefix}in/report.pdf")  # no delete, even inside
    _denied(s3.get_bucket_policy, Bucket=bucket)  # no bucket administration


def test_the_switch_removes_the_permission_from_open_sessions(cloud: Cloud, kit: AppliedKit) -> None:
    bucket, key = kit.variables["bucket_name"], f"{kit.variables['prefix']}x.txt"
    s3 = _s3(cloud, _assume(cloud, kit))  # a session open before the revocation (what signed URLs carry)
    s3.put_object(Bucket=bucket, Key=key, Body=b"before")
    scope = kit.apply(access_enabled=False)
    assert kit.iam.list_role_policies(RoleName=kit.role_name)["PolicyNames"] == []
    assert "PlatformRoleUsesKeyThroughS3" not in {s["Sid"] for s in scope.policy("key_policy")["Statement"]}
    _denied(s3.get_object, Bucket=bucket, Key=key)
    # The trust stays (the probe can tell "revoked" from "broken"), but a new session has no permission either.
    _denied(_s3(cloud, _assume(cloud, kit)).get_object, Bucket=bucket, Key=key)
    kit.apply(access_enabled=True)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"before"


def _grant(cloud: Cloud, kit: AppliedKit) -> dict[str, Any]:
    return {
        "backend": "s3",
        "bucket": kit.variables["bucket_name"],
        "prefix": kit.variables["prefix"],
        "region": REGION,
        "endpoint": cloud.endpoint,
        "role_arn": kit.role_arn,
        "external_id": kit.variables["external_id"],
    }


def test_the_connectors_probe_sees_the_switch(cloud: Cloud, kit: AppliedKit) -> None:
    grant = Grant.unsaved(kit.variables["tenant"], parse_spec(_grant(cloud, kit)))
    signer = S3Signer(grant, sts_client=cloud.client("sts", "platform"), clock=utc_now)
    assert signer.probe().status is ProbeStatus.OK
    kit.apply(access_enabled=False)
    result = signer.probe()
    assert result.status is ProbeStatus.DENIED
    assert result.detail.startswith("ListObjectsV2")  # AssumeRole still works: the permission went, not the trust


def test_the_prober_marks_the_grant_revoked_by_the_customer(cloud: Cloud, runtime: Runtime) -> None:
    """End to end as customer IT does it: Enclave generates the ExternalId, the kit is applied with it, the
    operator connects the grant; then the kit's switch goes off and the gateway's prober sees it."""
    signers = Signers(PlatformCredentials(sts_client=lambda _: cloud.client("sts", "platform")))
    states = GrantStates(runtime.sessions, runtime.cache)
    service = StorageService(runtime.sessions, runtime.audit, runtime.appender, states, signers)
    kit = applied_kit(cloud, service.external_id(SYSTEM_ACTOR, "acme", "default").value)
    grant = service.connect(SYSTEM_ACTOR, "acme", parse_spec(_grant(cloud, kit)), "BYOB kit applied")
    prober = GrantProber(runtime.sessions, runtime.audit, states, signers)
    assert prober.run_once()[grant.id].status is ProbeStatus.OK
    kit.apply(access_enabled=False)
    assert prober.run_once()[grant.id].status is ProbeStatus.DENIED
    [state] = service.status("acme")
    assert state.status is GrantStatus.REVOKED_BY_CUSTOMER
