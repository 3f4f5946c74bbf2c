"""What a valid spec still leaves to the operator: said at `stack init` and in the preview."""

from __future__ import annotations

from typing import Any

import pytest

from infra.spec import TenantSpec
from infra.spec_warnings import spec_warnings

BASE: dict[str, Any] = {"name": "acme", "network_cidr": "10.42.0.0/16", "hostname": "acme.example.com"}
CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"cloud": "aws", "region": "eu-west-1", "aws_account_id": "123456789012"},
    "gcp": {"cloud": "gcp", "region": "europe-west1", "gcp_project": "acme-project-1"},
    "azure": {
        "cloud": "azure",
        "region": "westeurope",
        "azure_subscription_id": "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f",
        "connectivity": {"egress_cidrs": ["20.190.128.0/18"]},
    },
}


def spec(cloud: str, **extra: Any) -> TenantSpec:
    return TenantSpec.model_validate(BASE | CLOUDS[cloud] | extra)


@pytest.mark.parametrize("cloud", list(CLOUDS))
def test_a_complete_spec_leaves_nothing_to_say(cloud: str) -> None:
    assert spec_warnings(spec(cloud, operator_cidrs=["10.8.0.0/24"])) == ()


@pytest.mark.parametrize("cloud", list(CLOUDS))
def test_a_private_api_without_operator_cidrs_is_said(cloud: str) -> None:
    (warning,) = spec_warnings(spec(cloud))
    assert "the Kubernetes API is private and no operator CIDR is set" in warning and "--operator-cidr" in warning


def test_a_missing_account_is_said() -> None:
    (warning,) = spec_warnings(spec("aws", aws_account_id=None, operator_cidrs=["10.8.0.0/24"]))
    assert "`pulumi up` refuses the stack until aws_account_id (--aws-account-id) is set" in warning


def test_an_identity_provider_without_egress_ranges_is_said() -> None:
    sso = {"issuer_url": "https://login.acme.test/realms/acme"}
    (warning,) = spec_warnings(spec("aws", operator_cidrs=["10.8.0.0/24"], sso=sso))
    assert "login.acme.test" in warning and "--egress-cidr" in warning
    ranges = {"egress_cidrs": ["198.51.100.0/24"]}
    assert spec_warnings(spec("aws", operator_cidrs=["10.8.0.0/24"], sso=sso, connectivity=ranges)) == ()


def test_azure_needs_entra_ids_ranges() -> None:
    azure = spec("azure", operator_cidrs=["10.8.0.0/24"], connectivity={})
    (warning,) = spec_warnings(azure)
    assert "login.microsoftonline.com" in warning and "AzureActiveDirectory" in warning
