"""Address coverage for the ingress rules: the union of the sources, whatever their spelling."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.policy import cidrs

BASE = int(ipaddress.ip_address("10.0.0.0"))


def intervals(networks: list[cidrs.Network]) -> set[tuple[int, int]]:
    """Each network as an [first, last] address interval, merged: the address set, compared exactly."""
    spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in networks)
    merged: list[list[int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return {(a, b) for a, b in merged}


def minus(a: set[tuple[int, int]], b: set[tuple[int, int]]) -> set[tuple[int, int]]:
    rest = sorted(a)
    for lo, hi in sorted(b):
        cut = []
        for first, last in rest:
            if last < lo or first > hi:
                cut.append((first, last))
                continue
            if first < lo:
                cut.append((first, lo - 1))
            if last > hi:
                cut.append((hi + 1, last))
        rest = cut
    return intervals(
        [
            n
            for first, last in rest
            for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(first), ipaddress.IPv4Address(last))
        ]
    )


networks = st.builds(
    lambda offset, prefix: ipaddress.ip_network(f"{ipaddress.IPv4Address(BASE + offset * 64)}/{prefix}", strict=False),
    st.integers(0, 1023),
    st.integers(18, 28),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(networks, max_size=6), st.lists(networks, max_size=6))
def test_uncovered_is_exactly_the_sources_minus_the_trusted(
    sources: list[cidrs.Network], trusted: list[cidrs.Network]
) -> None:
    expected = minus(intervals(sources), intervals(trusted))
    assert intervals(cidrs.uncovered(sources, trusted)) == expected


def test_the_world_in_pieces_is_the_world() -> None:
    assert cidrs.covers_world(cidrs.parse(["0.0.0.0/1", "128.0.0.0/1"]) or [])
    assert cidrs.covers_world(cidrs.parse(["::/1", "8000::/1"]) or [])
    assert not cidrs.covers_world(cidrs.parse(["0.0.0.0/1", "128.0.0.0/2"]) or [])
    assert cidrs.outside(["0.0.0.0/1", "128.0.0.0/1"], ["10.0.0.0/8"]) == (
        "the whole internet (0.0.0.0/0, as 0.0.0.0/1, 128.0.0.0/1)"
    )


def test_ranges_inside_the_trusted_ones_pass_and_others_are_named() -> None:
    assert cidrs.outside(["10.20.0.0/17", "10.20.128.0/17"], ["10.20.0.0/16"]) is None
    assert cidrs.outside(["10.20.0.0/15"], ["10.20.0.0/16"]) == "10.21.0.0/16"
    assert cidrs.outside(["2001:db8::/32"], ["10.20.0.0/16"]) == "2001:db8::/32"  # other IP version: not covered


def test_anything_not_a_cidr_counts_as_outside() -> None:
    assert cidrs.outside(["Internet"], ["10.0.0.0/8"]) == "['Internet'] (not all CIDRs)"
    assert cidrs.outside(["10.0.0.0/33"], ["10.0.0.0/8"]) is not None
