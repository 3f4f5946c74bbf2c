"""Each input rule is enforced twice — by `enclave byob synth` (Python) and by the kit's Terraform validation
blocks — from one definition (infra/byob/rules.py). These tests evaluate the committed kits' validation
conditions and require both to agree on the same values, chosen to sit on the rules' edges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.byob import rules
from tests.infra.byob.terraform_eval import Scope, load_kit
from tests.infra.byob.test_aws_kit import VALUES as AWS_VALUES
from tests.infra.byob.test_azure_kit import VALUES as AZURE_VALUES
from tests.infra.byob.test_gcp_kit import VALUES as GCP_VALUES

# (cloud, variable, rule, values that must pass, values that must fail)
CASES: list[tuple[str, str, rules.Rule, list[str], list[str]]] = [
    ("aws", "tenant", rules.TENANT, ["acme", "a-b-c", "x" * 20], ["ab", "Acme", "a--b", "acme-", "1acme", "x" * 21]),
    (
        "aws",
        "prefix",
        rules.PREFIX,
        ["", "tenants/acme/", "a/b.c/d_e=f/"],
        ["tenants/acme", "/x/", "a//", "a/../b/", "./", "t/*/", "t/?/", "t/${aws:username}/", "caf\u00e9/", "a b/"],
    ),
    (
        "aws",
        "gateway_url",
        rules.GATEWAY_URL,
        ["https://acme.example.com", "https://a.b.c:8443"],
        [
            "http://acme.example.com",
            "https://acme.example.com/",
            "https://ACME.example.com",
            "https://localhost",
            "https://acme.example.com/path",
            "https://acme.example.com*",
        ],
    ),
    (
        "aws",
        "platform_principal_arn",
        rules.AWS_PRINCIPAL,
        [
            "arn:aws:iam::111122223333:role/gw",
            "arn:aws:iam::111122223333:role/path/gw",
            "arn:aws:iam::111122223333:user/u",
        ],
        [
            "arn:aws:iam::111122223333:root",
            "*",
            "arn:aws:iam::1111:role/gw",
            "111122223333",
            "arn:aws:sts::111122223333:assumed-role/gw/s",
            "arn:aws:iam::111122223333:role/*",
        ],
    ),
    (
        "aws",
        "external_id",
        rules.EXTERNAL_ID,
        ["0123456789abcdef", "a" * 1224, "tenant:acme/2026-12=x+y@z"],
        ["short", "0123456789abcde", "a" * 1225, "0123456789abcdef space", "0123456789abcdef\n"],
    ),
    (
        "aws",
        "bucket_name",
        rules.S3_BUCKET,
        ["acme-data", "a.b.cd", "abc"],
        ["ab", "Acme", "-acme", "acme-", "a..b", "a_b"],
    ),
    (
        "aws",
        "kms_key_arn",
        rules.KMS_KEY_ARN,
        ["", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef"],
        ["alias/acme", "arn:aws:kms:eu-west-1:111122223333:alias/acme", "arn:aws:kms:eu-west-1:1:key/x"],
    ),
    (
        "gcp",
        "platform_service_account",
        rules.GCP_SERVICE_ACCOUNT,
        ["gateway@enclave-prod.iam.gserviceaccount.com"],
        [
            "gateway@gmail.com",
            "allUsers",
            "gateway@enclave-prod.iam.gserviceaccount.com.evil.com",
            "g@p.iam.gserviceaccount.com",
        ],
    ),
    ("gcp", "location", rules.GCP_LOCATION, ["europe-west1", "us-central1"], ["eu", "EUROPE-WEST1", "europe-west"]),
    ("gcp", "bucket_name", rules.GCS_BUCKET, ["acme_data", "acme-data"], ["acme.data", "Acme", "ab"]),
    (
        "azure",
        "platform_principal_id",
        rules.AZURE_OBJECT_ID,
        ["0f0e0d0c-0b0a-0908-0706-050403020100"],
        ["0F0E0D0C-0B0A-0908-0706-050403020100", "not-a-guid", ""],
    ),
    ("azure", "bucket_name", rules.AZURE_CONTAINER, ["enclave-acme", "abc"], ["ab", "a--b", "-abc", "Abc"]),
    ("azure", "storage_account_name", rules.AZURE_ACCOUNT, ["acmedata"], ["acme-data", "AcmeData", "ab", "a" * 25]),
]
VALID = {"aws": AWS_VALUES, "gcp": GCP_VALUES, "azure": AZURE_VALUES}
KITS = {cloud: load_kit(cloud) for cloud in VALID}


def terraform_accepts(cloud: str, variable: str, value: Any) -> bool:
    errors = Scope(KITS[cloud], {**VALID[cloud], variable: value}).validation_errors()
    return not any(e.startswith(f"{variable}:") for e in errors)


def python_accepts(rule: rules.Rule, value: str, optional: bool) -> bool:
    return (optional and value == "") or rule.problem(value) is None


@pytest.mark.parametrize("cloud", sorted(VALID))
def test_the_valid_values_pass_every_validation(cloud: str) -> None:
    assert Scope(KITS[cloud], VALID[cloud]).validation_errors() == []


@pytest.mark.parametrize(("cloud", "variable", "rule", "good", "bad"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_python_and_terraform_agree_on_the_edges(
    cloud: str, variable: str, rule: rules.Rule, good: list[str], bad: list[str]
) -> None:
    optional = "default" in KITS[cloud]["variable"][variable]
    for value in good:
        assert python_accepts(rule, value, optional), value
        assert terraform_accepts(cloud, variable, value), value
    for value in bad:
        assert not python_accepts(rule, value, optional), value
        assert not terraform_accepts(cloud, variable, value), value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc-_./*?$:{}A1 \u00e9", max_size=24))
def test_python_and_terraform_agree_on_random_prefixes(value: str) -> None:
    assert python_accepts(rules.PREFIX, value, False) == terraform_accepts("aws", "prefix", value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="acme-1A_.", max_size=24))
def test_python_and_terraform_agree_on_random_tenants(value: str) -> None:
    assert python_accepts(rules.TENANT, value, False) == terraform_accepts("aws", "tenant", value)


def test_every_validation_in_the_kits_comes_from_rules_py() -> None:
    known = {f"{rule.message}." for rule in vars(rules).values() if isinstance(rule, rules.Rule)}
    for cloud, kit in KITS.items():
        for name, spec in kit["variable"].items():
            for validation in spec.get("validation", []):
                message = validation["error_message"].removeprefix(f"{name}: ")
                if message.startswith("each entry is "):
                    message = message.split(": ", 1)[1]
                assert message in known, (cloud, name)
