"""The offline preview over the real cloud modules: every cloud x size passes on defaults, the report is
complete and machine-readable, no secret leaks, and a fleet preview runs every stack, in warm forked workers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.policy import engine
from infra.policy.model import ResourceView, Rule
from infra.preview import (
    PLACEHOLDER_SECRET,
    PreviewReport,
    fleet_shares,
    preview_fleet,
    preview_spec,
    report_json,
    share_cost,
)
from infra.spec import TENANT_TAG, TenantSpec
from infra.stack_config import write_stack

CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"region": "eu-west-1"},
    "gcp": {"region": "europe-west1", "gcp_project": "acme-project-1"},
    "azure": {"region": "westeurope"},
}


def make_spec(cloud: str, size: str = "small", name: str = "acme", cidr: str = "10.42.0.0/16") -> TenantSpec:
    return TenantSpec.model_validate(
        {"name": name, "cloud": cloud, "size": size, "network_cidr": cidr, "hostname": f"{name}.example.com"}
        | CLOUDS[cloud]
    )


# The regions infra/prices.json records every price for: cost figures are checked there.
REFERENCE_REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
# What has no recorded price yet, and says so (infra/prices.json `unpriced_note`).
KNOWN_UNPRICED = {"azure-native:redisenterprise:RedisEnterprise"}

_REPORTS: dict[tuple[str, str, bool], PreviewReport] = {}


def previewed(cloud: str, size: str = "small", reference: bool = False) -> PreviewReport:
    if (cloud, size, reference) not in _REPORTS:
        spec = make_spec(cloud, size)
        if reference:
            spec = spec.model_copy(update={"region": REFERENCE_REGIONS[cloud]})
        _REPORTS[cloud, size, reference] = preview_spec(spec)
    return _REPORTS[cloud, size, reference]


@pytest.mark.parametrize("size", ["small", "medium", "large"])
@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_defaults_pass_every_rule(cloud: str, size: str) -> None:
    report = report_json(previewed(cloud, size))
    assert report["policy"]["violations"] == 0, json.dumps(report["policy"], indent=1)
    assert report["passed"] is True
    assert [r["rule"] for r in report["policy"]["rules"]] == [r.value for r in Rule]
    assert all(r["enforcement"] == "mandatory" for r in report["policy"]["rules"])
    assert report["cost"]["region"] == report["region"]
    assert json.loads(json.dumps(report)) == report


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_report_covers_the_whole_tree(cloud: str) -> None:
    report = report_json(previewed(cloud))
    urns = {r["urn"] for r in report["resources"]}
    (root,) = [r for r in report["resources"] if r["type"] == "enclave:index:TenantStack"]
    assert all(r["parent"] in urns for r in report["resources"] if r is not root)
    assert {c["urn"] for c in report["cost"]["resources"]} == urns
    types = {r["type"] for r in report["resources"]}
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"} <= types


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_billable_resource_is_priced_where_prices_are_recorded(cloud: str) -> None:
    report = report_json(previewed(cloud, reference=True))
    unpriced = [(c["type"], c["reason"]) for c in report["cost"]["resources"] if c["status"] == "not priced"]
    assert [t for t, _ in unpriced if t not in KNOWN_UNPRICED] == []
    assert report["cost"]["total_monthly_usd"] > 0


def test_larger_sizes_cost_more() -> None:
    for cloud in CLOUDS:
        costs = [previewed(cloud, size, reference=True).cost.total_monthly_usd for size in ("small", "medium", "large")]
        assert costs == sorted(costs) and costs[0] < costs[2], (cloud, costs)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_no_secret_reaches_the_report(cloud: str) -> None:
    assert PLACEHOLDER_SECRET not in json.dumps(report_json(previewed(cloud)))
    for resource in previewed(cloud).resources:
        assert PLACEHOLDER_SECRET not in json.dumps(resource.inputs, default=str)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_real_graph_fails_the_generic_rules_when_tampered(cloud: str) -> None:
    """The real rule tables: dropping the tenant tag or renaming a resource is caught."""
    report = previewed(cloud)
    ctx = engine.context_for(report.spec)
    book = engine.RuleBook()
    views = [ResourceView(r.type, r.name, r.urn, r.inputs, r.protect) for r in report.resources]
    taggable = next(v for v in views if (rules := book.for_type(v.type)) and v.type in rules.taggable_types)
    rules = book.for_type(taggable.type)
    assert rules is not None
    field = rules.tag_fields_by_type.get(taggable.type, rules.tag_field)
    untagged = replace(taggable, inputs=strip_tag(dict(taggable.inputs), field.split(".")))
    renamed = replace(taggable, name=f"globex-{taggable.name}")
    assert {v.rule for v in engine.evaluate([untagged], ctx, book)} >= {Rule.TENANT_TAG}
    assert {v.rule for v in engine.evaluate([renamed], ctx, book)} >= {Rule.NO_CROSS_TENANT_SHARING}


def strip_tag(inputs: dict[str, Any], path: list[str]) -> dict[str, Any]:
    if len(path) == 1:
        return {**inputs, path[0]: {k: v for k, v in (inputs.get(path[0]) or {}).items() if k != TENANT_TAG}}
    return {**inputs, path[0]: strip_tag(dict(inputs.get(path[0]) or {}), path[1:])}


@pytest.mark.parametrize("workers", [1, 2])
def test_fleet_preview_runs_every_stack_and_reports_errors(tmp_path: Path, workers: int) -> None:
    write_stack(tmp_path, make_spec("aws", name="acme", cidr="10.42.0.0/16"))
    write_stack(tmp_path, make_spec("gcp", name="globex", cidr="10.43.0.0/16"))
    write_stack(tmp_path, make_spec("aws", name="initech", cidr="10.44.0.0/16"))
    write_stack(tmp_path, make_spec("aws", name="umbrella", cidr="10.45.0.0/16"))
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  enclave:tenant:\n    name: broken\n")
    done: list[str] = []
    results = preview_fleet(tmp_path, workers=workers, on_done=lambda r: done.append(r["tenant"]))
    assert sorted(done) == [r["tenant"] for r in results] == ["acme", "broken", "globex", "initech", "umbrella"]
    acme, broken, globex, initech, umbrella = results
    assert acme["passed"] and acme["cloud"] == "aws" and globex["passed"] and globex["cloud"] == "gcp"
    assert initech["passed"] and umbrella["passed"]
    assert len(initech["resources"]) == len(acme["resources"])  # a forked worker runs the same program
    assert not broken["passed"] and "invalid tenant spec" in broken["error"]


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 8, 64])
@pytest.mark.parametrize("clouds", [["aws"], ["aws", "gcp", "azure"], ["gcp", "gcp", "azure"]])
def test_the_fleet_is_shared_by_cloud_so_each_worker_imports_few_sdks(workers: int, clouds: list[str]) -> None:
    """Under the cost the preview plans with (a cloud's SDK import per worker, then each stack), the shares
    finish no later than either naive plan: whole clouds per worker, or stacks dealt out regardless of cloud."""
    stacks = [(clouds[i % len(clouds)], Path(f"Pulumi.t{i:02d}.yaml")) for i in range(20)]
    cloud_of = {path: cloud for cloud, path in stacks}

    def busiest(shares: list[list[Path]]) -> float:
        return max(share_cost([(cloud_of[p], p) for p in share]) for share in shares)

    shares = fleet_shares(stacks, workers)
    assert sorted(path for share in shares for path in share) == sorted(cloud_of)  # every stack, once
    assert len(shares) <= workers
    dealt = [[path for i, (_, path) in enumerate(stacks) if i % workers == w] for w in range(min(workers, 20))]
    per_cloud: list[list[Path]] = [[] for _ in range(min(workers, len(set(clouds))))]
    for cloud in sorted(set(clouds), key=lambda c: -sum(1 for x, _ in stacks if x == c)):
        min(per_cloud, key=len).extend(path for x, path in stacks if x == cloud)
    assert busiest(shares) <= min(busiest(dealt), busiest(per_cloud)) + 1e-9  # (float sums in any order)
    if workers == 1:
        assert len(shares) == 1  # in this process
    assert fleet_shares([], workers) == []


def test_the_preview_prices_the_stacks_region_and_says_what_its_zones_cost_in_availability() -> None:
    """The estimate uses the stack's own region's prices; where the table has none for that region, each item
    says so and the total is marked partial (never another region's price, never a scaled one); a region with
    fewer than three zones says so too."""
    base = report_json(previewed("aws", reference=True))
    spec = TenantSpec.model_validate(
        {
            "name": "acme",
            "cloud": "aws",
            "size": "small",
            "network_cidr": "10.42.0.0/16",
            "hostname": "acme.example.com",
            "region": "sa-east-1",
        }
    )
    brazil = report_json(preview_spec(spec))
    assert base["cost"]["complete"] and base["cost"]["pricing"].startswith("us-east-1: published list prices")
    assert brazil["cost"]["region"] == "sa-east-1" and not brazil["cost"]["complete"]
    unpriced = [c for c in brazil["cost"]["resources"] if c["status"] == "not priced"]
    assert unpriced and all("in sa-east-1 is recorded" in c["reason"] for c in unpriced)
    assert "no recorded price in sa-east-1" in brazil["cost"]["pricing"]
    two_zones = TenantSpec.model_validate(
        {
            "name": "acme",
            "cloud": "aws",
            "size": "small",
            "network_cidr": "10.42.0.0/16",
            "hostname": "acme.example.com",
            "region": "us-west-1",
        }
    )
    report = report_json(preview_spec(two_zones))
    assert len(report["zones"]) == 2
    assert any("2 availability zones" in warning for warning in report["region_warnings"])
    assert base["region_warnings"] == [] and len(base["zones"]) == 3


def test_fleet_cost_never_reads_as_free_where_no_prices_are_known() -> None:
    from infra.preview import fleet_cost

    unpriced = {"total_monthly_usd": 0.0, "complete": False, "region": "sa-east-1"}
    partial = {"total_monthly_usd": 120.5, "complete": False, "region": "us-east-1"}
    priced = {"total_monthly_usd": 1234.5, "complete": True, "region": "us-east-1"}
    assert "$" not in fleet_cost(unpriced) and "sa-east-1" in fleet_cost(unpriced)
    assert fleet_cost(partial) == "$120.50 (partial)"
    assert fleet_cost(priced) == "$1,234.50"
