"""Region tables against snapshots of the providers' published region lists, zones, and how a region with fewer
than three zones or with restricted access is flagged rather than silently changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore
import pytest
from pulumi_aws import Region as PulumiAwsRegion

from infra.regions import (
    CLOUDS,
    HA_ZONES,
    ZONES,
    Access,
    RegionTable,
    UnsupportedRegion,
    load_region_table,
    region,
    region_table,
    region_warnings,
    supported_regions,
)

SNAPSHOTS = Path(__file__).with_name("data") / "regions"
TABLES = Path(__file__).parents[2] / "infra" / "data" / "regions"


def snapshot(cloud: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SNAPSHOTS / f"{cloud}.json").read_text(encoding="utf-8"))
    return doc


def differences(published: Mapping[str, list[str]], table: RegionTable) -> list[str]:
    """Every way the table disagrees with a provider's published list (empty when they agree)."""
    problems = [
        f"{name} is in the published list but neither supported nor excluded"
        for name in sorted(set(published) - set(table.regions) - set(table.excluded))
    ]
    problems += [
        f"{name} is supported but not in the published list" for name in sorted(set(table.regions) - set(published))
    ]
    problems += [
        f"{name} is excluded but not in the published list" for name in sorted(set(table.excluded) - set(published))
    ]
    problems += [
        f"{name} zones {list(r.zones)} differ from the published {published[name]}"
        for name, r in sorted(table.regions.items())
        if name in published and list(r.zones) != published[name]
    ]
    return problems


@pytest.mark.parametrize("cloud", CLOUDS)
def test_table_matches_the_snapshot_of_the_published_list(cloud: str) -> None:
    snap = snapshot(cloud)
    assert snap["provider"] == cloud and snap["source"] and len(snap["retrieved"]) == 10
    assert differences(snap["regions"], region_table(cloud)) == []


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_snapshot_check_catches_a_missing_or_an_extra_region(cloud: str) -> None:
    table = region_table(cloud)
    published = dict(snapshot(cloud)["regions"])
    dropped = supported_regions(cloud)[0]
    del published[dropped]
    published["xx-nowhere-1"] = []
    assert differences(published, table) == [
        "xx-nowhere-1 is in the published list but neither supported nor excluded",
        f"{dropped} is supported but not in the published list",
    ]
    moved = supported_regions(cloud)[-1]
    published = {**snapshot(cloud)["regions"], moved: ["elsewhere"]}
    assert differences(published, table) == [
        f"{moved} zones {list(table.regions[moved].zones)} differ from the published ['elsewhere']"
    ]


def test_aws_snapshot_is_the_installed_botocore_region_list() -> None:
    endpoints = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text(encoding="utf-8"))
    shipped = {name for partition in endpoints["partitions"] for name in partition["regions"]}
    commercial = next(p for p in endpoints["partitions"] if p["partition"] == "aws")["regions"]
    assert set(snapshot("aws")["regions"]) == shipped
    assert set(supported_regions("aws")) == set(commercial)
    assert {r.value for r in PulumiAwsRegion} == shipped


def test_every_excluded_region_says_why() -> None:
    for cloud in CLOUDS:
        for name, reason in region_table(cloud).excluded.items():
            assert len(reason) > 20, (cloud, name)
    with pytest.raises(UnsupportedRegion, match="China partition"):
        region("aws", "cn-north-1")
    with pytest.raises(UnsupportedRegion, match="GovCloud"):
        region("aws", "us-gov-west-1")
    with pytest.raises(UnsupportedRegion, match=r"choose one of: .*us-east-1"):
        region("aws", "us-east-9")
    with pytest.raises(UnsupportedRegion, match="unknown cloud"):
        region("oracle", "us-ashburn-1")


@pytest.mark.parametrize(
    ("cloud", "name"), [("gcp", "southamerica-east1"), ("aws", "ap-south-1"), ("azure", "australiaeast")]
)
def test_regions_the_issue_names_are_supported_with_three_zones(cloud: str, name: str) -> None:
    assert name in supported_regions(cloud) and len(ZONES[cloud][name]) == HA_ZONES
    assert region(cloud, name).high_availability and region_warnings(cloud, name) == ()


def test_zone_names_belong_to_their_region() -> None:
    for cloud in CLOUDS:
        for name, r in region_table(cloud).regions.items():
            for zone in r.zones:
                if cloud == "azure":
                    assert zone in {"1", "2", "3"}, (name, zone)
                else:
                    suffix = zone.removeprefix(name)
                    assert zone.startswith(name) and suffix.strip("-").isalpha() and len(suffix.strip("-")) == 1
            assert ZONES[cloud][name] == r.zones[:HA_ZONES]


def test_fewer_than_three_zones_is_said_not_hidden() -> None:
    west = region("aws", "us-west-1")
    assert not west.high_availability and west.stack_zones == west.zones and len(west.zones) == 2
    (warning,) = west.warnings
    assert "2 availability zones, not 3" in warning and "us-west-1a" in warning
    single = region("azure", "westus")
    assert single.zones == () and ZONES["azure"]["westus"] == ()
    assert "no availability zones" in single.warnings[0] and "high availability are off" in single.warnings[0]
    assert region("aws", "us-east-1").stack_zones == ("us-east-1a", "us-east-1b", "us-east-1c")


def test_regions_needing_enablement_are_accepted_and_flagged() -> None:
    cape_town = region("aws", "af-south-1")
    assert cape_town.access is Access.OPT_IN and "opt-in" in cape_town.warnings[0]
    assert region("aws", "eu-west-1").access is Access.DEFAULT
    geneva = region("azure", "switzerlandwest")
    assert geneva.access is Access.RESTRICTED
    assert any("region access request" in w for w in geneva.warnings)
    assert "no availability zones" in geneva.warnings[0]


def test_region_caveats_from_the_table_are_warnings() -> None:
    (m6i,) = region("aws", "eu-south-2").warnings[-1:]
    assert "m6i" in m6i and "not offered" in m6i
    assert "no recorded instance type offerings" in region("aws", "mx-central-1").warnings[-1]


def write_table(tmp_path: Path, cloud: str, change: Any) -> Path:
    doc = json.loads((TABLES / f"{cloud}.json").read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / f"{cloud}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(source=""), "needs 'source'"),
        (lambda d: d.update(cloud="gcp"), "table is for 'gcp'"),
        (lambda d: d["regions"]["eu-west-1"].update(zones=["eu-west-1a", "eu-west-1a"]), "lists a zone twice"),
        (lambda d: d["excluded"].update({"eu-west-1": "no reason"}), "both supported and excluded"),
        (lambda d: d["regions"]["eu-west-1"].update(access="maybe"), "'maybe' is not a valid Access"),
    ],
)
def test_a_broken_table_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_region_table("aws", write_table(tmp_path, "aws", change))
