"""Pure helpers of the AWS module: subnet carving, kubeconfig, key policy, principals, secrets, ARNs."""

from __future__ import annotations

import ipaddress
import json

import pytest

from infra.aws.account import check_account_holds_only, role_path, tenants_in
from infra.aws.connectivity import consumer_principals, load_balancer_annotations
from infra.aws.credentials import CACHE_AUTH_TOKEN, DATABASE_PASSWORD, check_secret
from infra.aws.iam import account_of, require_account_id
from infra.aws.identity import gateway_trust_policy
from infra.aws.keys import KeyUsers, autoscaling_role_arn, customer_key_arn, key_policy
from infra.aws.kubeconfig import render_kubeconfig
from infra.aws.subnets import plan_subnets
from infra.workload import NAMESPACE, SERVICE_ACCOUNT

ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


@pytest.mark.parametrize(
    ("cidr", "private_prefix", "public_prefix"), [("10.0.0.0/16", 18, 20), ("10.8.16.0/20", 22, 24)]
)
def test_subnets_are_disjoint_inside_the_block(cidr: str, private_prefix: int, public_prefix: int) -> None:
    block = ipaddress.IPv4Network(cidr)
    plan = plan_subnets(block, ZONES)
    assert [z.zone for z in plan] == list(ZONES)
    subnets = [z.private for z in plan] + [z.public for z in plan]
    assert all(s.subnet_of(block) for s in subnets)
    assert {s.prefixlen for s in subnets[:3]} == {private_prefix}
    assert {s.prefixlen for s in subnets[3:]} == {public_prefix}
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_subnet_plan_refuses_bad_zone_lists() -> None:
    block = ipaddress.IPv4Network("10.0.0.0/16")
    with pytest.raises(ValueError, match="1 to 3 availability zones"):
        plan_subnets(block, [])
    with pytest.raises(ValueError, match="1 to 3 availability zones"):
        plan_subnets(block, [*ZONES, "eu-west-1d"])
    with pytest.raises(ValueError, match="distinct"):
        plan_subnets(block, ["eu-west-1a", "eu-west-1a"])


def test_kubeconfig_uses_short_lived_tokens() -> None:
    doc = json.loads(
        render_kubeconfig(cluster_name="acme-eks", endpoint="https://x.eks", ca_data="Q0E=", region="eu-west-1")
    )
    assert doc["clusters"][0]["cluster"] == {"server": "https://x.eks", "certificate-authority-data": "Q0E="}
    exec_ = doc["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == ["eks", "get-token", "--cluster-name", "acme-eks", "--region", "eu-west-1"]
    assert doc["current-context"] == "acme-eks"
    with pytest.raises(ValueError, match="https"):
        render_kubeconfig(cluster_name="c", endpoint="http://x", ca_data="Q0E=", region="eu-west-1")
    with pytest.raises(ValueError, match="certificate authority"):
        render_kubeconfig(cluster_name="c", endpoint="https://x", ca_data="", region="eu-west-1")


USERS = KeyUsers(
    trail_arn="arn:aws:cloudtrail:eu-west-1:111122223333:trail/acme-trail",
    log_group_arns=("arn:aws:logs:eu-west-1:111122223333:log-group:acme-vpc-flow-logs",),
    autoscaling_role_arn=autoscaling_role_arn("111122223333"),
)


def test_key_policy_scopes_services_to_the_account() -> None:
    doc = json.loads(key_policy("111122223333", "eu-west-1", USERS))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["AccountAdministersViaIam"]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    logs = by_sid["CloudWatchLogsEncryptsThisStacksLogGroups"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": list(USERS.log_group_arns)}}
    assert all(s["Principal"] != "*" for s in doc["Statement"])


def test_key_policy_lets_cloudtrail_describe_and_decrypt_for_this_trail_only() -> None:
    """DescribeKey carries no encryption context, so a context condition on it never matches; Decrypt is
    needed for a trail whose bucket uses an S3 Bucket Key (create-kms-key-policy-for-cloudtrail.html)."""
    doc = json.loads(key_policy("111122223333", "eu-west-1", USERS))
    trail = [s for s in doc["Statement"] if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}]
    actions = {s["Action"]: s for s in trail}
    assert set(actions) == {"kms:GenerateDataKey*", "kms:DescribeKey", "kms:Decrypt"}
    for statement in trail:
        assert statement["Condition"]["StringEquals"] == {"aws:SourceArn": USERS.trail_arn}
    assert "StringLike" not in actions["kms:DescribeKey"]["Condition"]
    assert "StringLike" not in actions["kms:Decrypt"]["Condition"]
    assert actions["kms:GenerateDataKey*"]["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"
    }


def test_key_policy_names_the_autoscaling_role_it_is_given() -> None:
    role = "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    assert autoscaling_role_arn("111122223333") == role
    doc = json.loads(key_policy("111122223333", "eu-west-1", USERS))
    grants = [s for s in doc["Statement"] if s["Principal"] == {"AWS": role}]
    assert {s["Sid"] for s in grants} == {"AutoScalingUsesKeyForNodeVolumes", "AutoScalingGrantsForNodeVolumes"}


@pytest.mark.parametrize(
    ("arns", "others"),
    [
        ([], set()),
        (["arn:aws:iam::111122223333:role/enclave/acme/acme-gateway"], set()),
        (["arn:aws:iam::111122223333:role/enclave/globex/globex-gateway"], {"globex"}),
        (["arn:aws:iam::111122223333:role/acme-gateway", "arn:aws:iam::111122223333:role/enclave-x"], set()),
    ],
)
def test_account_check_finds_other_tenants_by_role_path(arns: list[str], others: set[str]) -> None:
    assert tenants_in(arns) - {"acme"} == others
    if others:
        with pytest.raises(ValueError, match="already holds Enclave tenant globex") as raised:
            check_account_holds_only("acme", "111122223333", arns)
        assert "own account" in str(raised.value)
    else:
        assert check_account_holds_only("acme", "111122223333", arns) == "acme"
    assert role_path("acme") == "/enclave/acme/"


def test_customer_key_must_be_a_key_arn_in_region() -> None:
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert customer_key_arn(arn, "eu-west-1") == arn
    with pytest.raises(ValueError, match="KMS key ARN"):
        customer_key_arn("alias/my-key", "eu-west-1")
    with pytest.raises(ValueError, match="regional"):
        customer_key_arn(arn, "us-east-1")


def test_gateway_trust_is_one_service_account() -> None:
    doc = json.loads(gateway_trust_policy("arn:aws:iam::1:oidc-provider/oidc.eks/id/X", "https://oidc.eks/id/X"))
    (statement,) = doc["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks/id/X:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
        "oidc.eks/id/X:aud": "sts.amazonaws.com",
    }
    with pytest.raises(ValueError, match="OIDC issuer"):
        gateway_trust_policy("arn", "")


def test_private_link_consumers_become_principals() -> None:
    assert consumer_principals(["111122223333", "arn:aws:iam::444455556666:role/app"]) == [
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::444455556666:role/app",
    ]
    for bad in ("*", "1234", "arn:aws:iam::111122223333:group/x"):
        with pytest.raises(ValueError, match="private_link_consumers"):
            consumer_principals([bad])


def test_load_balancer_annotations_skip_the_await_only_while_the_certificate_is_pending() -> None:
    pending = load_balancer_annotations(certificate_arn="arn:cert", public=True, tags={}, awaited=False)
    issued = load_balancer_annotations(certificate_arn="arn:cert", public=True, tags={})
    assert pending["pulumi.com/skipAwait"] == "true"
    assert "pulumi.com/skipAwait" not in issued


def test_load_balancer_annotations_internal_only_when_not_public() -> None:
    public = load_balancer_annotations(certificate_arn="arn:cert", public=True, tags={"t": "a"})
    internal = load_balancer_annotations(certificate_arn="arn:cert", public=False, tags={"t": "a"})
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert public[f"{prefix}ssl-cert"] == "arn:cert"
    assert public[f"{prefix}ssl-ports"] == "443"
    assert f"{prefix}internal" not in public
    assert internal[f"{prefix}internal"] == "true"


@pytest.mark.parametrize(
    ("key", "rule", "bad"),
    [
        ("databasePassword", DATABASE_PASSWORD, "short"),
        ("databasePassword", DATABASE_PASSWORD, "has@at-sign-inside"),
        ("cacheAuthToken", CACHE_AUTH_TOKEN, "only-fifteen-ch"),
        ("cacheAuthToken", CACHE_AUTH_TOKEN, "sixteen chars with space"),
    ],
)
def test_secrets_are_checked_without_echoing_them(key: str, rule: tuple[int, int, frozenset[str]], bad: str) -> None:
    with pytest.raises(ValueError, match=key) as raised:
        check_secret(key, bad, rule)
    assert bad not in str(raised.value)


def test_account_ids() -> None:
    assert account_of("arn:aws:iam::111122223333:role/x") == "111122223333"
    with pytest.raises(ValueError, match="account id"):
        account_of("arn:aws:s3:::bucket")
    with pytest.raises(ValueError, match="12-digit"):
        require_account_id("12345", "peering.peer_owner")
