"""Invalid tenant specs are refused with an error that names the field and says what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.spec import TenantSpec

VALID: dict[str, Any] = {
    "name": "acme",
    "cloud": "aws",
    "region": "eu-west-1",
    "network_cidr": "10.42.0.0/16",
    "hostname": "acme.example.com",
}


def errors_for(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TenantSpec.model_validate({**VALID, **changes})
    return str(caught.value)


def test_valid_spec_has_secure_defaults() -> None:
    spec = TenantSpec.model_validate(VALID)
    assert spec.deletion_protection
    assert spec.connectivity.public_ingress and not spec.connectivity.private_link
    assert spec.tags == {"enclave-tenant": "acme", "managed-by": "enclave"}
    assert spec.preset.gateway_replicas >= 2


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "ab"}, "3 to 20 lowercase letters"),
        ({"name": "Acme"}, "lowercase letters"),
        ({"name": "acme--corp"}, "single hyphens"),
        ({"name": "admin"}, "reserved"),
        ({"region": "mars-1"}, "not supported on aws"),
        ({"cloud": "gcp", "region": "europe-west1"}, "gcp_project is required"),
        ({"gcp_project": "my-project-1"}, "only for GCP"),
        ({"network_cidr": "8.8.0.0/16"}, "private range"),
        ({"network_cidr": "10.0.0.0/8"}, "/16 to /20"),
        ({"hostname": "not a host"}, "hostname"),
        ({"connectivity": {"public_ingress": False}}, "must be reachable"),
        ({"connectivity": {"private_link": True}}, "private_link_consumers"),
        ({"storage": {"mode": "byob"}}, "needs bucket and customer_account"),
        ({"storage": {"mode": "byob", "bucket": "b", "customer_account": "1"}}, "external_id"),
        ({"sso": {"issuer_url": "http://idp.example.com"}}, "issuer_url"),
        ({"size": "huge"}, "size"),
        ({"surprise": True}, "Extra inputs are not permitted"),
        (
            {
                "cloud": "azure",
                "region": "westeurope",
                "connectivity": {
                    "private_link": True,
                    "private_link_consumers": ["00000000-0000-0000-0000-000000000000"],
                },
            },
            "cannot be both public and private",
        ),
    ],
)
def test_invalid_spec_is_refused_clearly(changes: dict[str, Any], expected: str) -> None:
    assert expected in errors_for(**changes)


def test_peer_cidr_may_not_overlap_the_tenant_network() -> None:
    peering = {"peer_network": "vpc-1", "peer_owner": "123456789012", "peer_cidr": "10.42.128.0/20"}
    assert "overlaps the tenant network" in errors_for(connectivity={"peering": peering})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"aws_account_id": "12345"}, "an AWS account id is 12 digits"),
        ({"aws_account_id": "12345678901a"}, "an AWS account id is 12 digits"),
        ({"azure_subscription_id": "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"}, "only for Azure tenants"),
        (
            {"cloud": "azure", "region": "westeurope", "azure_subscription_id": "not-a-guid"},
            "an Azure subscription id is a lowercase GUID",
        ),
        ({"cloud": "gcp", "region": "europe-west1", "gcp_project": "Bad_Project"}, "a GCP project id is"),
        (
            {"cloud": "gcp", "region": "europe-west1", "gcp_project": "p-123456", "aws_account_id": "210987654321"},
            "only for AWS",
        ),
        ({"route53_zone_id": "zone-1"}, "route53_zone_id"),
        (
            {"cloud": "gcp", "region": "europe-west1", "gcp_project": "p-123456", "route53_zone_id": "Z0123ABC"},
            "only for AWS",
        ),
        ({"operator_cidrs": ["203.0.113.0/24"]}, "operator_cidrs 203.0.113.0/24 are public"),
        ({"operator_cidrs": ["0.0.0.0/0"], "allow_public_operator_cidrs": True}, "too wide"),
        ({"operator_cidrs": ["10.0.0.0/33"]}, "operator_cidrs"),
    ],
)
def test_account_zone_and_operator_fields_are_validated(changes: dict[str, Any], expected: str) -> None:
    assert expected in errors_for(**changes)


def test_account_zone_and_operator_fields_accept_good_values() -> None:
    spec = TenantSpec.model_validate(
        {
            **VALID,
            "aws_account_id": "210987654321",
            "route53_zone_id": "Z0123456789ABCDEFGHIJ",
            "operator_cidrs": ["10.8.0.0/24", "198.51.100.7/32"],
            "allow_public_operator_cidrs": True,
        }
    )
    assert spec.account == "210987654321"
    assert [str(c) for c in spec.operator_cidrs] == ["10.8.0.0/24", "198.51.100.7/32"]
    azure = TenantSpec.model_validate(
        {
            **VALID,
            "cloud": "azure",
            "region": "westeurope",
            "azure_subscription_id": "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f",
        }
    )
    assert azure.account == "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"
    assert TenantSpec.model_validate(VALID).account is None  # named later, before `pulumi up` (infra/program.py)
