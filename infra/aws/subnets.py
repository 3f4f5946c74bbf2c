"""Carving the tenant's network_cidr into per-zone private and public subnets (pure, unit-tested)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

MAX_ZONES = 3


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private: ipaddress.IPv4Network  # nodes, database, cache, internal load balancers
    public: ipaddress.IPv4Network  # NAT gateways and the internet-facing load balancer only


def plan_subnets(cidr: ipaddress.IPv4Network, zones: Sequence[str]) -> tuple[ZoneSubnets, ...]:
    """Split the block into quarters: one private quarter per zone (up to three), and the last quarter
    cut into sixteenths for the small public subnets. A /16 gives /18 private and /20 public subnets."""
    if not 1 <= len(zones) <= MAX_ZONES:
        raise ValueError(f"need 1 to {MAX_ZONES} availability zones, got {len(zones)}")
    if len(set(zones)) != len(zones):
        raise ValueError(f"availability zones must be distinct, got {list(zones)}")
    quarters = list(cidr.subnets(prefixlen_diff=2))
    public = list(quarters[-1].subnets(prefixlen_diff=2))
    return tuple(ZoneSubnets(zone=zone, private=quarters[i], public=public[i]) for i, zone in enumerate(zones))
