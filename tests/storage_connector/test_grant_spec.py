"""One grant model for the API, the CLI and the domain: the same input is refused (or accepted) by every one of
them, against AWS's, Google's and Microsoft's published naming rules and botocore's partition data."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from storage_connector.aws_partitions import partition_of_arn, partition_of_region
from storage_connector.backends import REGISTRY, GrantConnectIn, parse_spec, registration
from storage_connector.factory import Signers
from storage_connector.grants import Backend, Grant, GrantError
from storage_connector.platform import PlatformCredentials, SignerUnavailableError
from storage_connector.s3 import MAX_SESSION_POLICY, S3GrantSpec, iam_literal, session_policy
from storage_connector.spec import GrantSpecBase

API_BODY: TypeAdapter[GrantSpecBase] = TypeAdapter(GrantConnectIn)
ROLE = "arn:aws:iam::123456789012:role/enclave-access"


def s3(**values: Any) -> dict[str, Any]:
    return {"backend": "s3", "bucket": "acme-data", "region": "eu-west-1", "role_arn": ROLE, **values}


def refused_everywhere(values: dict[str, Any], why: str) -> None:
    """The CLI's path (parse_spec) and the API's body model refuse it, for the same reason."""
    with pytest.raises(GrantError, match=why):
        parse_spec(values)
    with pytest.raises(ValidationError, match=why):
        API_BODY.validate_python(values)


def accepted_everywhere(values: dict[str, Any]) -> GrantSpecBase:
    spec = parse_spec(values)
    body = API_BODY.validate_python({**values, "reason": "BYOB kit applied"})
    assert spec.model_dump() == body.model_dump(exclude={"reason"})
    return spec


def test_every_backend_is_registered_once_with_its_own_model() -> None:
    assert set(REGISTRY) == set(Backend)
    for backend, entry in REGISTRY.items():
        assert entry.backend is backend
        assert entry.spec.model_fields["backend"].annotation is not Backend  # a Literal of its own backend
    assert registration("s3").external_id and not registration("local").external_id


@pytest.mark.parametrize(
    ("role_arn", "why"),
    [
        ("arn:aws:iam::123456789012:role/rôle", "role name of at most 64"),  # \w matched 'ô' in one old copy
        ("arn:aws:iam::123456789012:role/" + "r" * 65, "role name of at most 64"),
        ("arn:aws:iam::123456789012:role/" + "r" * 512, "role name of at most 64"),
        ("arn:aws:iam::12345678901:role/r", "12-digit account"),
        ("arn:aws:iam::123456789012:user/r", "arn:PARTITION:iam::ACCOUNT:role"),
        ("arn:aws-mars:iam::123456789012:role/r", "arn:PARTITION:iam::ACCOUNT:role"),
        ("arn:aws:iam::123456789012:role/r\n", "arn:PARTITION:iam::ACCOUNT:role"),
        ("arn:aws:iam::123456789012:role/path with space/r", "arn:PARTITION:iam::ACCOUNT:role"),
    ],
)
def test_role_arns_follow_iam_identifiers(role_arn: str, why: str) -> None:
    refused_everywhere(s3(role_arn=role_arn), why)


def test_a_role_path_and_every_name_character_are_accepted() -> None:
    spec = accepted_everywhere(s3(role_arn="arn:aws:iam::123456789012:role/division_abc/sub!div/Name+=,.@_-1"))
    assert isinstance(spec, S3GrantSpec) and spec.partition_id == "aws"


@pytest.mark.parametrize(
    ("region", "role_arn", "host"),
    [
        ("cn-north-1", "arn:aws-cn:iam::123456789012:role/r", "amazonaws.com.cn"),
        ("cn-northwest-1", "arn:aws-cn:iam::123456789012:role/r", "amazonaws.com.cn"),
        ("us-gov-west-1", "arn:aws-us-gov:iam::123456789012:role/r", "amazonaws.com"),
        ("us-gov-east-1", "arn:aws-us-gov:iam::123456789012:role/r", "amazonaws.com"),
    ],
)
def test_china_and_govcloud_grants_are_usable(region: str, role_arn: str, host: str) -> None:
    spec = accepted_everywhere(s3(region=region, role_arn=role_arn))
    assert isinstance(spec, S3GrantSpec)
    partition = partition_of_region(region)
    assert partition is not None and partition.id == spec.partition_id == partition_of_arn(role_arn)
    assert partition.dns_suffix == host
    policy = json.loads(session_policy(spec.bucket, spec.prefix, spec.partition_id))
    assert all(s["Resource"].startswith(f"arn:{partition.id}:s3:::") for s in policy["Statement"])


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (s3(region="eu-west-9"), "not an AWS region"),
        (s3(region="aws-global"), "not an AWS region"),  # a pseudo-region names an endpoint, never a bucket
        (s3(region="us-gov-west-1"), "partition aws but region us-gov-west-1 is in aws-us-gov"),
        (s3(region="cn-north-1"), "partition aws but region cn-north-1 is in aws-cn"),
        (s3(role_arn="arn:aws-cn:iam::123456789012:role/r"), "partition aws-cn but region eu-west-1 is in aws"),
        (s3(region="EU-WEST-1"), "lower-case letters"),
    ],
)
def test_regions_that_do_not_exist_or_another_partitions_are_refused(values: dict[str, Any], why: str) -> None:
    refused_everywhere(values, why)


def test_an_s3_compatible_endpoint_keeps_its_path_and_names_its_own_region() -> None:
    spec = accepted_everywhere(s3(region="garage", endpoint="https://storage.example.net/s3api/"))
    grant = Grant.unsaved("acme", spec)
    assert grant.endpoint == "https://storage.example.net/s3api"
    assert grant.region == "garage"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://storage.example.net/../s3api",
        "https://storage.example.net/a//b",
        "https://storage.example.net/.hidden",
        "https://user@storage.example.net",
        "https://storage.example.net/s3api?x=1",
        "ftp://storage.example.net",
    ],
)
def test_endpoints_are_plain(endpoint: str) -> None:
    refused_everywhere(s3(endpoint=endpoint), "http\\(s\\)://host")


@pytest.mark.parametrize(
    ("bucket", "why"),
    [
        ("192.168.10.12", "never an IP address"),
        ("xn--acme-data", "reserves"),
        ("acme-data-s3alias", "reserves"),
        ("acme--ol-s3", "reserves"),
        ("acme..data", "without adjacent dots"),
        ("Acme-Data", "lower-case"),
        ("ab", "at least 3"),
    ],
)
def test_s3_bucket_naming_rules(bucket: str, why: str) -> None:
    refused_everywhere(s3(bucket=bucket), why)


@pytest.mark.parametrize(
    "prefix", ["..;", "tenants/..;", "..globex", "tenants/..globex", "....", "tenants/../globex", ".", "a/./b"]
)
def test_prefix_segments_never_start_with_a_dot(prefix: str) -> None:
    refused_everywhere({"backend": "local", "prefix": prefix}, "'\\.\\.'|'\\.'|starting with")


@pytest.mark.parametrize(
    "values",
    [
        {"backend": "local", "ttl_max_seconds": True},
        {"backend": "local", "ttl_max_seconds": "900"},
        {"backend": "local", "ttl_default_seconds": False},
        {"backend": "local", "ttl_default_seconds": 900.5},
    ],
)
def test_lifetimes_are_integers_not_booleans_or_strings(values: dict[str, Any]) -> None:
    refused_everywhere(values, "integer")


def test_a_json_number_without_a_fraction_is_an_integer() -> None:
    """JSON Schema's `integer` admits 900.0; the model takes what its published schema admits."""
    assert accepted_everywhere({"backend": "local", "ttl_default_seconds": 900.0}).ttl_default_seconds == 900


def test_the_default_lifetime_follows_a_shorter_maximum() -> None:
    spec = accepted_everywhere({"backend": "local", "ttl_max_seconds": 300})
    assert spec.ttl_policy().default.total_seconds() == 300
    refused_everywhere({"backend": "local", "ttl_max_seconds": 300, "ttl_default_seconds": 600}, "must not exceed")


def test_fields_of_another_backend_are_refused() -> None:
    refused_everywhere({"backend": "local", "role_arn": ROLE}, "Extra inputs are not permitted")
    refused_everywhere({"backend": "gcs", "bucket": "acme-data", "region": "eu-west-1"}, "Extra inputs")
    refused_everywhere({"backend": "gcs", "bucket": "acme-data", "endpoint": "https://h.example/p"}, "without a path")


def test_azure_auth_follows_the_policy_id_unless_named() -> None:
    base = {"backend": "azure", "bucket": "acme-data", "azure_account": "acmestore"}
    assert accepted_everywhere({**base, "azure_policy_id": "enclave"}).stored().options["auth"] == "stored-policy"
    assert accepted_everywhere(base).stored().options["auth"] == "user-delegation"
    refused_everywhere({**base, "azure_auth": "stored-policy"}, "needs azure_policy_id")
    refused_everywhere({**base, "azure_auth": "user-delegation", "azure_policy_id": "x"}, "only for stored-policy")


# -- the prefix in the AssumeRole session policy ------------------------------------------------------------
def _iam_string_like(pattern: str) -> re.Pattern[str]:
    """IAM's StringLike / Resource matching, as the IAM User Guide documents it: '*' any run of characters, '?'
    one character, ${*} ${?} ${$} the literal characters; any other ${...} is a policy variable (which would
    make the match depend on the request)."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        for escape, literal in (("${*}", "*"), ("${?}", "?"), ("${$}", "$")):
            if pattern.startswith(escape, index):
                parts.append(re.escape(literal))
                index += len(escape)
                break
        else:
            char = pattern[index]
            assert not pattern.startswith("${", index), f"a policy variable in {pattern!r}"
            parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


@pytest.mark.parametrize("prefix", ["team*/", "q?/", "cost$/", "a*b?c$d/", "${aws:username}/", "x/${*}/"])
def test_wildcards_and_variables_in_the_prefix_are_matched_literally(prefix: str) -> None:
    policy = json.loads(session_policy("acme-data", prefix))
    objects, listing = policy["Statement"]
    resource = _iam_string_like(objects["Resource"])
    listed = _iam_string_like(listing["Condition"]["StringLike"]["s3:prefix"][0])
    assert resource.fullmatch(f"arn:aws:s3:::acme-data/{prefix}report.pdf")
    assert listed.fullmatch(f"{prefix}report.pdf")
    sibling = prefix.replace("*", "-other").replace("?", "Z").replace("$", "S").replace("{", "(")
    assert sibling != prefix
    assert not resource.fullmatch(f"arn:aws:s3:::acme-data/{sibling}report.pdf")
    assert not listed.fullmatch(f"{sibling}report.pdf")


def test_iam_literal_escapes_the_dollar_first() -> None:
    assert iam_literal("a*?$") == "a${*}${?}${$}"
    assert iam_literal("${*}") == "${$}{${*}}"


def test_a_prefix_whose_session_policy_is_too_long_is_refused() -> None:
    spec = accepted_everywhere(s3(prefix="a*" * 100))
    assert len(session_policy(spec.bucket, spec.prefix)) <= MAX_SESSION_POLICY
    refused_everywhere(s3(prefix="*" * 500), "too long for an AssumeRole session policy")


def test_a_gateway_in_one_partition_refuses_grants_of_another() -> None:
    """Partitions do not share IAM: a gateway whose own identity is in `aws` cannot assume an `aws-cn` role."""
    china = parse_spec(s3(region="cn-north-1", role_arn="arn:aws-cn:iam::123456789012:role/r"))
    commercial = Signers(PlatformCredentials(sts_client=object, aws_identity="arn:aws:iam::210987654321:role/gw"))
    with pytest.raises(SignerUnavailableError, match="partition aws; a role in aws-cn"):
        commercial.check(china)
    commercial.check(parse_spec(s3()))
    in_china = Signers(PlatformCredentials(sts_client=object, aws_identity="arn:aws-cn:iam::210987654321:role/gw"))
    in_china.check(china)
    unknown = Signers(PlatformCredentials(sts_client=object))  # no identity configured: nothing to compare with
    unknown.check(china)
