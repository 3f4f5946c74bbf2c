"""S3 grant access semantics against moto's server in IAM-enforcing mode: AssumeRole with the tenant's
ExternalId and session name, a wrong ExternalId refused, and the probe noticing a detached role policy.
moto does not check presigned-URL signatures, so nothing here sends a presigned URL to it (signatures are
proven against botocore and AWS's vectors in test_sigv4.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from audit.events import SYSTEM_ACTOR, utc_now
from audit.store.tables import audit_records
from auth.roles import Role
from enclave.runtime import Runtime
from storage_connector.backends import parse_spec
from storage_connector.factory import Signers
from storage_connector.grants import Grant, GrantStatus
from storage_connector.platform import PlatformCredentials
from storage_connector.probe import GrantProber
from storage_connector.revocation import GrantStates
from storage_connector.s3 import S3Signer, session_name, session_policy
from storage_connector.service import BatchItem, Refusal, StorageRefusedError, StorageService
from storage_connector.signer import Operation, ProbeStatus, SigningContext, UrlRequest
from tests.storage_connector.conftest import principal
from tests.storage_connector.servers import moto_server

ACCOUNT = "123456789012"  # moto's default account
EXTERNAL_ID = "acme-7f3c2a91"
BUCKET = "customer-bucket"
REGION = "eu-west-1"
SETUP_ACTIONS = 9


@dataclass
class Cloud:
    endpoint: str
    platform: dict[str, str]  # the gateway's own access key (may only sts:AssumeRole)
    customer: dict[str, str]  # customer IT's admin key
    role_arn: str

    def client(self, service: str, keys: dict[str, str]) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint, **keys)


def _keys(response: dict[str, Any]) -> dict[str, str]:
    key = response["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with moto_server(SETUP_ACTIONS) as endpoint:
        anonymous = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint, **anonymous)
        iam.create_user(UserName="enclave-platform")  # 1
        platform = _keys(iam.create_access_key(UserName="enclave-platform"))  # 2
        iam.put_user_policy(  # 3
            UserName="enclave-platform",
            PolicyName="assume",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}
                    ],
                }
            ),
        )
        iam.create_user(UserName="customer-it")  # 4
        customer = _keys(iam.create_access_key(UserName="customer-it"))  # 5
        iam.put_user_policy(  # 6
            UserName="customer-it",
            PolicyName="admin",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        role = iam.create_role(RoleName="enclave-access", AssumeRolePolicyDocument=_trust(EXTERNAL_ID))  # 7
        policy = iam.create_policy(  # 8
            PolicyName="enclave-bucket",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"],
                            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                        }
                    ],
                }
            ),
        )
        iam.attach_role_policy(RoleName="enclave-access", PolicyArn=policy["Policy"]["Arn"])  # 9
        cloud = Cloud(endpoint, platform, customer, role["Role"]["Arn"])
        cloud.client("s3", customer).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield cloud


def _spec_values(cloud: Cloud, external_id: str = EXTERNAL_ID) -> dict[str, Any]:
    return {
        "backend": "s3",
        "bucket": BUCKET,
        "prefix": "tenants/acme",
        "region": REGION,
        "endpoint": cloud.endpoint,
        "role_arn": cloud.role_arn,
        "external_id": external_id,
    }


def _grant(cloud: Cloud, external_id: str = EXTERNAL_ID) -> Grant:
    spec = parse_spec(_spec_values(cloud, external_id))
    return Grant.unsaved("acme", spec, "g-" + external_id[-6:])


def _signer(cloud: Cloud, grant: Grant) -> S3Signer:
    return S3Signer(grant, sts_client=cloud.client("sts", cloud.platform), clock=utc_now)


def test_iam_is_enforced(cloud: Cloud) -> None:
    stranger = {"aws_access_key_id": "AKIA" + "UNKNOWN000000000", "aws_secret_access_key": "x" * 40}
    with pytest.raises(ClientError, match=r"InvalidClientTokenId|AccessDenied|not valid"):
        cloud.client("sts", stranger).assume_role(RoleArn=cloud.role_arn, RoleSessionName="xx", ExternalId=EXTERNAL_ID)


def test_assume_role_names_the_tenant_and_urls_carry_the_session(cloud: Cloud) -> None:
    signer = _signer(cloud, _grant(cloud))
    credentials = signer._role.current(timedelta(minutes=15))
    identity = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=cloud.endpoint,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    ).get_caller_identity()
    assert identity["Arn"].endswith(f"assumed-role/enclave-access/{session_name('acme')}")
    now = utc_now()
    expires_at = now + timedelta(minutes=15)
    assert credentials.expires_at is not None and expires_at <= credentials.expires_at
    [url] = signer.sign(
        [UrlRequest(Operation.GET, "tenants/acme/x")], SigningContext(expires_at, now, "alice", "0" * 32)
    )
    query = parse_qs(urlsplit(url.url).query)
    assert query["X-Amz-Security-Token"] == [credentials.session_token]
    assert query["X-Amz-Credential"][0].startswith(credentials.access_key_id + "/")
    assert query["x-enclave-user"] == ["alice"]
    assert signer._role.current(timedelta(minutes=15)) is credentials  # cached, not re-assumed


def test_session_policy_is_narrowed_to_the_prefix() -> None:
    policy = json.loads(session_policy(BUCKET, "tenants/acme/"))
    resources = [s["Resource"] for s in policy["Statement"]]
    assert resources == [f"arn:aws:s3:::{BUCKET}/tenants/acme/*", f"arn:aws:s3:::{BUCKET}"]
    assert policy["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": ["tenants/acme/*"]}}
    china = json.loads(session_policy(BUCKET, "tenants/acme/", "aws-cn"))
    assert [s["Resource"] for s in china["Statement"]][1] == f"arn:aws-cn:s3:::{BUCKET}"


def test_a_wrong_external_id_is_refused(cloud: Cloud) -> None:
    result = _signer(cloud, _grant(cloud, external_id="someone-elses-id")).probe()
    assert result.status is ProbeStatus.DENIED
    assert "AssumeRole" in result.detail


def test_the_probe_detects_a_detached_role_policy(cloud: Cloud) -> None:
    signer = _signer(cloud, _grant(cloud))
    assert signer.probe().status is ProbeStatus.OK
    iam = cloud.client("iam", cloud.customer)
    [attached] = iam.list_attached_role_policies(RoleName="enclave-access")["AttachedPolicies"]
    iam.detach_role_policy(RoleName="enclave-access", PolicyArn=attached["PolicyArn"])
    try:
        result = signer.probe()
        assert result.status is ProbeStatus.DENIED
        assert "ListObjectsV2" in result.detail
    finally:
        iam.attach_role_policy(RoleName="enclave-access", PolicyArn=attached["PolicyArn"])
    assert signer.probe().status is ProbeStatus.OK


def _trust(external_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/enclave-platform"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


@pytest.fixture
def enclave_trust(cloud: Cloud, storage: StorageService) -> Iterator[str]:
    """Customer IT applies the BYOB kit with the ExternalId Enclave generated for acme's grant `default`."""
    generated = storage.external_id(SYSTEM_ACTOR, "acme", "default").value
    iam = cloud.client("iam", cloud.customer)
    iam.update_assume_role_policy(RoleName="enclave-access", PolicyDocument=_trust(generated))
    try:
        yield generated
    finally:
        iam.update_assume_role_policy(RoleName="enclave-access", PolicyDocument=_trust(EXTERNAL_ID))


def test_the_prober_marks_the_grant_revoked_by_customer_until_an_admin_restores_it(
    cloud: Cloud, runtime: Runtime, enclave_trust: str
) -> None:
    signers = Signers(PlatformCredentials(sts_client=lambda _: cloud.client("sts", cloud.platform)))
    states = GrantStates(runtime.sessions, None)
    service = StorageService(runtime.sessions, runtime.audit, runtime.appender, states, signers)
    values = {k: v for k, v in _spec_values(cloud).items() if k != "external_id"}  # Enclave's own is used
    grant = service.connect(SYSTEM_ACTOR, "acme", parse_spec(values), "BYOB kit applied")
    assert grant.external_id == enclave_trust
    prober = GrantProber(runtime.sessions, runtime.audit, states, signers, interval_seconds=30)
    member = principal(Role.MEMBER)
    assert prober.run_once()[grant.id].status is ProbeStatus.OK
    batch = service.issue(member, grant.id, [BatchItem(Operation.PUT, "in/report.pdf")])
    assert "X-Amz-Security-Token=" in batch.urls[0].signed.url
    iam = cloud.client("iam", cloud.customer)
    [attached] = iam.list_attached_role_policies(RoleName="enclave-access")["AttachedPolicies"]
    iam.detach_role_policy(RoleName="enclave-access", PolicyArn=attached["PolicyArn"])
    try:
        assert prober.run_once()[grant.id].status is ProbeStatus.DENIED
    finally:
        iam.attach_role_policy(RoleName="enclave-access", PolicyArn=attached["PolicyArn"])
    [state] = service.status("acme")
    assert state.status is GrantStatus.REVOKED_BY_CUSTOMER
    assert state.grant.probe_status == "denied"
    with pytest.raises(StorageRefusedError) as refused:
        service.issue(member, grant.id, [BatchItem(Operation.GET, "in/report.pdf")])
    assert refused.value.refusal is Refusal.REVOKED
    assert prober.run_once() == {}  # access is back, but only an explicit restore re-enables the grant
    assert service.status("acme")[0].status is GrantStatus.REVOKED_BY_CUSTOMER
    service.restore(SYSTEM_ACTOR, "acme", grant.id, "customer re-attached the policy")
    assert service.issue(member, grant.id, [BatchItem(Operation.GET, "in/report.pdf")]).urls
    with runtime.sessions() as session:
        actions = list(
            session.scalars(
                audit_records.select()
                .with_only_columns(audit_records.c.action)
                .where(audit_records.c.tenant_id == "acme")
            )
        )
    assert "storage.grant.revocation.detected" in actions
    assert actions.index("storage.grant.revocation.detected") < actions.index("storage.grant.restored")
