"""The price table and the per-resource estimate: sources and dates present, unknown types never zero."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.pricing import PRICES_PATH, PricedResource, default_table, estimate, load_table
from infra.sizes import PRESETS


def cost(type_: str, inputs: dict[str, Any], cloud: str = "aws") -> tuple[str, float]:
    (result,) = estimate([PricedResource("urn:x", type_, "acme-x", inputs)], cloud).resources
    return result.status, round(result.monthly_usd, 2)


def test_every_price_has_a_public_source_a_date_and_regions() -> None:
    doc = json.loads(PRICES_PATH.read_text())
    for key, entry in doc["prices"].items():
        assert entry["source"].startswith("https://"), key
        assert len(entry["as_of"]) == 10, key
        assert entry["regions"] and all(usd > 0 for usd in entry["regions"].values()), key


def test_every_size_preset_is_priced_in_the_reference_region() -> None:
    table = default_table()
    prefixes = {"aws": ("aws.ec2.", "aws.rds.", "aws.elasticache."), "azure": ("azure.vm.", "azure.mysql.", None)}
    for cloud, (node, db, cache) in prefixes.items():
        region = table.reference_regions[cloud]
        for preset in PRESETS[cloud].values():
            assert region in table.prices[node + preset.node_machine_type].regions
            assert region in table.prices[db + preset.db_instance_class].regions
            if cache:
                assert region in table.prices[cache + preset.cache_node_type].regions
    for preset in PRESETS["gcp"].values():
        assert "us-central1" in table.prices["gcp.compute." + preset.node_machine_type].regions


def test_azure_managed_redis_is_not_priced_until_a_price_is_recorded() -> None:
    """No published Azure Managed Redis price was recorded: the item says so rather than borrowing one."""
    assert not [k for k in default_table().prices if k.startswith(("azure.redis.", "azure.managed-redis."))]
    (result,) = estimate(
        [
            PricedResource(
                "urn:x", "azure-native:redisenterprise:RedisEnterprise", "acme-redis", {"sku": {"name": "Balanced_B1"}}
            )
        ],
        "azure",
    ).resources
    assert result.status == "not priced" and "azure.managed-redis.Balanced_B1" in result.reason


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


def test_a_stack_elsewhere_is_priced_only_where_its_region_has_a_price() -> None:
    """Prices are per region: a region whose price is not recorded gets no number for that item, and the report
    names the region and says the total is partial (no multiplier from another region)."""
    eks = [PricedResource("urn:x", "aws:eks/cluster:Cluster", "acme-eks", {})]
    base = estimate(eks, "aws")
    assert base.region == "us-east-1" and base.complete and base.total_monthly_usd == 73.0
    assert base.summary == "us-east-1: published list prices for every billable item"
    sao_paulo = estimate(eks, "aws", region="sa-east-1")
    (item,) = sao_paulo.resources
    assert (item.status, item.monthly_usd, item.missing_region) == ("not priced", 0.0, True)
    assert item.reason == "no published price for 'aws.eks.cluster' in sa-east-1 is recorded (recorded: us-east-1)"
    assert not sao_paulo.complete and sao_paulo.total_monthly_usd == 0
    assert "1 item(s) have no recorded price in sa-east-1" in sao_paulo.summary


def test_a_region_with_a_recorded_price_uses_that_price(tmp_path: Path) -> None:
    doc = json.loads(PRICES_PATH.read_text())
    doc["prices"]["aws.eks.cluster"]["regions"]["sa-east-1"] = 0.1
    doc["prices"]["aws.ec2.m6i.large"]["regions"]["sa-east-1"] = 0.151
    table_path = tmp_path / "prices.json"
    table_path.write_text(json.dumps(doc))
    table = load_table(table_path)
    nodes = PricedResource(
        "urn:n",
        "aws:eks/nodeGroup:NodeGroup",
        "acme-nodes",
        {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 2}},
    )
    report = estimate([nodes], "aws", table, region="sa-east-1")
    assert report.complete and report.total_monthly_usd == pytest.approx(0.151 * 730 * 2)


def test_a_cloud_without_prices_is_refused() -> None:
    with pytest.raises(ValueError, match="no prices for cloud 'oracle'"):
        estimate([], "oracle")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["prices"]["gcp.gke.cluster"].update(regions={}), "positive price for every region"),
        (lambda d: d["prices"]["gcp.gke.cluster"]["regions"].update({"europe-west1": 0}), "positive price"),
        (lambda d: d["prices"]["gcp.gke.cluster"].update(as_of="last year"), "the date"),
        (lambda d: d["prices"]["gcp.gke.cluster"].update(unit="fortnight"), "unknown unit"),
    ],
)
def test_prices_without_regions_or_date_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    doc = json.loads(PRICES_PATH.read_text())
    change(doc)
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        load_table(bad)
