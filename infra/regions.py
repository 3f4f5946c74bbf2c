"""Regions Enclave deploys to, with the availability zones each offers, for every public region of each cloud.

The tables live in infra/data/regions/<cloud>.json, one per cloud, each naming the published list it was taken
from and the date; tests/infra/test_regions.py checks them against a snapshot of each provider's list. Zones are
not derivable from names (GCP's europe-west1 has b, c and d; AWS's ca-central-1 has a, b and d), so they are
listed. A stack spreads over at most three zones; a region with fewer degrades high availability, and says so
in `Region.warnings` (never silently). Regions that need enabling first (AWS opt-in, Azure access-restricted)
are accepted and flagged. A region missing here is refused with the list of supported ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

TABLES_DIR = Path(__file__).with_name("data") / "regions"
CLOUDS: Final = ("aws", "gcp", "azure")
HA_ZONES: Final = 3  # zones a stack spreads over when the region has them


class Access(StrEnum):
    DEFAULT = "default"  # usable by every account / project / subscription
    OPT_IN = "opt-in"  # AWS: the account must enable the region first
    RESTRICTED = "restricted"  # Azure: needs an approved region access request


_ACCESS_STEPS: Final = {
    Access.OPT_IN: "is an opt-in region: enable it in the account first (`aws account enable-region`) "
    "or every resource fails",
    Access.RESTRICTED: "is access-restricted: the subscription needs an approved Azure region access request "
    "(https://learn.microsoft.com/troubleshoot/azure/general/region-access-request-process)",
}


class UnsupportedRegion(ValueError):
    """The region is not in the cloud's table (a typo, another cloud's region, or an excluded region)."""


@dataclass(frozen=True)
class Region:
    cloud: str
    name: str
    location: str
    zones: tuple[str, ...]  # every zone the provider lists, in its order
    access: Access
    caveats: tuple[str, ...] = ()  # region-specific facts an operator must check (from the table)

    @property
    def stack_zones(self) -> tuple[str, ...]:
        """The zones a stack spreads over: the first HA_ZONES listed ones."""
        return self.zones[:HA_ZONES]

    @property
    def high_availability(self) -> bool:
        """Whether a stack here survives the loss of a zone with a majority left (three zones)."""
        return len(self.zones) >= HA_ZONES

    @property
    def warnings(self) -> tuple[str, ...]:
        """What an operator must know before choosing this region, in words for the spec and the preview."""
        notes: list[str] = []
        if not self.zones:
            notes.append(
                f"{self.name} has no availability zones: nothing is spread over zones, zone-redundant database "
                "and cache high availability are off, and one datacenter failure can stop the stack"
            )
        elif len(self.zones) < HA_ZONES:
            notes.append(
                f"{self.name} has {len(self.zones)} availability zones, not {HA_ZONES}: the stack spreads over "
                f"{', '.join(self.zones)} only, so losing one zone halves the capacity"
            )
        if self.access in _ACCESS_STEPS:
            notes.append(f"{self.name} {_ACCESS_STEPS[self.access]}")
        notes += (f"{self.name}: {caveat}" for caveat in self.caveats)
        return tuple(notes)


@dataclass(frozen=True)
class RegionTable:
    cloud: str
    source: str
    zone_source: str
    as_of: str
    notes: str
    regions: dict[str, Region]
    excluded: dict[str, str]  # region -> why it is not supported


def load_region_table(cloud: str, path: Path) -> RegionTable:
    """Read and check one cloud's table (every region with zones and access, the exclusions, the source)."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("cloud") != cloud:
        raise ValueError(f"{path}: table is for {doc.get('cloud')!r}, expected {cloud!r}")
    for field in ("source", "zone_source", "as_of"):
        if not doc.get(field):
            raise ValueError(f"{path}: needs {field!r} (where the list was published and when it was taken)")
    regions: dict[str, Region] = {}
    for name, entry in doc["regions"].items():
        zones = tuple(entry["zones"])
        if len(set(zones)) != len(zones):
            raise ValueError(f"{path}: {name} lists a zone twice: {list(zones)}")
        caveats = tuple(entry.get("caveats", ()))
        regions[name] = Region(cloud, name, entry["location"], zones, Access(entry["access"]), caveats)
    overlap = set(regions) & set(doc["excluded"])
    if overlap:
        raise ValueError(f"{path}: {sorted(overlap)} are both supported and excluded")
    return RegionTable(
        cloud, doc["source"], doc["zone_source"], doc["as_of"], doc.get("notes", ""), regions, dict(doc["excluded"])
    )


@cache
def region_table(cloud: str) -> RegionTable:
    if cloud not in CLOUDS:
        raise UnsupportedRegion(f"unknown cloud {cloud!r}; choose one of: {', '.join(CLOUDS)}")
    return load_region_table(cloud, TABLES_DIR / f"{cloud}.json")


def supported_regions(cloud: str) -> list[str]:
    return sorted(region_table(cloud).regions)


def region(cloud: str, name: str) -> Region:
    """The region, or UnsupportedRegion saying why not (excluded with its reason, or unknown)."""
    table = region_table(cloud)
    found = table.regions.get(name)
    if found is not None:
        return found
    if name in table.excluded:
        raise UnsupportedRegion(f"region {name!r} is not supported on {cloud}: {table.excluded[name]}")
    raise UnsupportedRegion(
        f"region {name!r} is not supported on {cloud}; choose one of: {', '.join(supported_regions(cloud))}"
    )


def region_warnings(cloud: str, name: str) -> tuple[str, ...]:
    return region(cloud, name).warnings


# The zones a stack in each region spreads over (at most HA_ZONES), as the spec and the cloud modules use them.
ZONES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    cloud: {name: r.stack_zones for name, r in region_table(cloud).regions.items()} for cloud in CLOUDS
}
