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
