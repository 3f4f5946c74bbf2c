"""The price table and the per-resource estimate: sources and dates present, unknown types never zero."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.pricing import PRICES_PATH, PricedResource, default_table, estimate, load_table
from infra.regions import CLOUDS, supported_regions
from infra.sizes import PRESETS


def cost(type_: str, inputs: dict[str, Any], cloud: str = "aws") -> tuple[str, float]:
    (result,) = estimate([PricedResource("urn:x", type_, "acme-x", inputs)], cloud).resources
    return result.status, round(result.monthly_usd, 2)


def test_every_price_has_a_public_source_and_a_date() -> None:
    doc = json.loads(PRICES_PATH.read_text())
    for key, entry in doc["prices"].items():
        assert entry["source"].startswith("https://"), key
        assert len(entry["as_of"]) == 10 and entry["usd"] > 0, key


def test_every_size_preset_is_priced() -> None:
    prices = default_table().prices
    prefixes = {
        "aws": ("aws.ec2.", "aws.rds.", "aws.elasticache."),
        "azure": ("azure.vm.", "azure.mysql.", "azure.redis."),
    }
    for cloud, (node, db, cache) in prefixes.items():
        for preset in PRESETS[cloud].values():
            assert node + preset.node_machine_type in prices
            assert db + preset.db_instance_class in prices
            assert cache + preset.cache_node_type in prices
    for preset in PRESETS["gcp"].values():
        assert "gcp.compute." + preset.node_machine_type in prices


def test_hourly_prices_become_monthly() -> None:
    assert cost("aws:eks/cluster:Cluster", {}) == ("priced", 73.0)
    assert cost(
        "aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 2}}
    ) == (
        "priced",
        140.16,
    )


def test_high_availability_doubles_the_database() -> None:
    single = cost("aws:rds/instance:Instance", {"instanceClass": "db.r6g.large", "allocatedStorage": 200})
    multi = cost(
        "aws:rds/instance:Instance", {"instanceClass": "db.r6g.large", "allocatedStorage": 200, "multiAz": True}
    )
    assert single[0] == "priced" and multi[1] == pytest.approx(2 * single[1], abs=0.02)


def test_cloud_sql_custom_tier_and_memorystore_band() -> None:
    sql = {"settings": {"tier": "db-custom-2-7680", "diskSize": 50}}
    assert cost("gcp:sql/databaseInstance:DatabaseInstance", sql, "gcp") == (
        "priced",
        round((2 * 0.0413 + 7.5 * 0.007) * 730 + 50 * 0.17, 2),
    )
    assert cost("gcp:redis/instance:Instance", {"tier": "STANDARD_HA", "memorySizeGb": 13}, "gcp") == (
        "priced",
        round(13 * 0.030 * 730, 2),
    )


def test_load_balancer_service_is_priced_per_cloud() -> None:
    lb = {"spec": {"type": "LoadBalancer"}}
    assert cost("kubernetes:core/v1:Service", lb, "gcp") == ("priced", 18.25)
    assert cost("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP"}}, "gcp") == ("free", 0.0)


def test_unknown_or_unpriceable_is_reported_not_zeroed() -> None:
    assert cost("aws:sagemaker/endpoint:Endpoint", {}) == ("not priced", 0.0)
    (result,) = estimate(
        [
            PricedResource(
                "urn:x", "aws:rds/instance:Instance", "acme-db", {"instanceClass": "db.x9.huge", "allocatedStorage": 5}
            )
        ],
        "aws",
    ).resources
    assert result.status == "not priced" and "db.x9.huge" in result.reason
    (missing,) = estimate([PricedResource("urn:x", "aws:rds/instance:Instance", "acme-db", {})], "aws").resources
    assert missing.status == "not priced" and "instanceClass" in missing.reason


def test_components_and_free_types_cost_nothing() -> None:
    component = PricedResource("urn:c", "enclave:index:TenantStack", "acme", {}, custom=False)
    namespace = PricedResource("urn:n", "kubernetes:core/v1:Namespace", "acme-ns", {})
    report = estimate([component, namespace], "aws")
    assert [r.status for r in report.resources] == ["free", "free"]
    assert report.total_monthly_usd == 0 and report.not_priced == ()


def test_table_without_source_is_refused(tmp_path: Path) -> None:
    doc = json.loads(PRICES_PATH.read_text())
    next(iter(doc["prices"].values()))["source"] = "somewhere"
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="https:// address"):
        load_table(bad)


def test_every_supported_region_and_no_other_has_a_price_band() -> None:
    table = default_table()
    for cloud in CLOUDS:
        assert set(table.regional[cloud]) == set(supported_regions(cloud)), cloud
        base = table.region_price(cloud)
        assert base.region == table.base_regions[cloud] and base.multiplier == 1.0
        assert all(p.region == base.region for k, p in table.prices.items() if k.startswith(f"{cloud}."))


def test_a_stack_elsewhere_is_priced_by_its_band_and_says_it_is_an_estimate() -> None:
    eks = [PricedResource("urn:x", "aws:eks/cluster:Cluster", "acme-eks", {})]
    base = estimate(eks, "aws")
    sao_paulo = estimate(eks, "aws", region="sa-east-1")
    assert base.pricing is not None and base.pricing.summary == "us-east-1: base-region list prices"
    assert sao_paulo.pricing is not None and sao_paulo.pricing.band == "south-america"
    assert sao_paulo.total_monthly_usd == pytest.approx(base.total_monthly_usd * sao_paulo.pricing.multiplier)
    assert sao_paulo.pricing.multiplier > 1 and "estimate" in sao_paulo.pricing.summary
    (item,) = sao_paulo.resources[0].items
    assert item.regional_multiplier == sao_paulo.pricing.multiplier
    ohio = estimate(eks, "aws", region="us-east-2")
    assert ohio.pricing is not None and "same on-demand prices" in ohio.pricing.basis
    assert ohio.total_monthly_usd == base.total_monthly_usd


def test_a_region_without_a_band_is_refused() -> None:
    with pytest.raises(ValueError, match="no price band for aws region 'mars-1'"):
        estimate([], "aws", region="mars-1")
    with pytest.raises(ValueError, match="no regional prices for cloud 'oracle'"):
        estimate([], "oracle")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["regional"]["bands"]["gcp"]["europe"].update(basis=" "), "needs a positive multiplier"),
        (lambda d: d["regional"]["bands"]["gcp"]["europe"].update(multiplier=0), "needs a positive multiplier"),
        (lambda d: d["regional"]["regions"]["gcp"].update({"europe-west1": "moon"}), "unknown band 'moon'"),
        (lambda d: d["regional"]["bands"]["gcp"]["us-base"].update(multiplier=1.1), "multiplier 1"),
        (lambda d: d["prices"]["gcp.gke.cluster"].update(region="europe-west1"), "not gcp's base region"),
    ],
)
def test_regional_prices_without_basis_or_band_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    doc = json.loads(PRICES_PATH.read_text())
    change(doc)
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        load_table(bad)
