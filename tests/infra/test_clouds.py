"""The cloud registry (infra/clouds.py): every registered cloud supplies everything the cloud-agnostic code
reads from it, and a cloud registers once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra import clouds
from infra.clouds import REGISTRY, Cloud, CloudRegistration, registration, registrations, rule_modules
from infra.policy.model import CloudRules
from infra.pricing import default_table
from infra.sizes import Size

CLOUDS = [r.cloud for r in registrations()]


def test_every_cloud_is_registered_once() -> None:
    assert set(REGISTRY) == set(Cloud)
    with pytest.raises(ValueError, match="registered twice"):
        clouds._register(replace(registration(Cloud.AWS)))


@pytest.mark.parametrize("cloud", CLOUDS, ids=[c.value for c in CLOUDS])
def test_a_registration_supplies_build_rules_mock_outputs_presets_zones_and_prices(cloud: Cloud) -> None:
    entry = registration(cloud)
    assert callable(entry.module().build)
    assert isinstance(entry.rules(), CloudRules)
    fakers, invokes = entry.mock_outputs()
    assert fakers and all(token.startswith(f"{entry.type_prefix}:") for token in [*fakers, *invokes])
    assert set(entry.presets) == set(Size)
    assert entry.zones  # (a region may have no zones: high availability degrades there, infra/regions.py)
    assert default_table().region_for(entry.price_key, None) in entry.zones
    assert rule_modules()[entry.type_prefix] == f"{entry.package}.policy"
    entry.check_account(entry.mock_account)  # the preview's stand-in is itself a valid account


@pytest.mark.parametrize(
    ("cloud", "value"),
    [(Cloud.AWS, "1234567890123"), (Cloud.GCP, "1project"), (Cloud.AZURE, "5F0B3C1E-8D2A-4E6F-9B7C-1A2B3C4D5E6F")],
)
def test_account_formats_are_checked(cloud: Cloud, value: str) -> None:
    with pytest.raises(ValueError, match=registration(cloud).account_field):
        registration(cloud).check_account(value)


def test_a_registration_is_data_and_names_its_own_package() -> None:
    for entry in registrations():
        assert isinstance(entry, CloudRegistration)
        assert entry.package == f"infra.{entry.cloud.value}"
