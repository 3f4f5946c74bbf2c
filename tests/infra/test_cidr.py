"""Tenant network blocks: allocated without overlap, explicit ones checked, exhaustion reported."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.cidr import RESERVED, CidrError, allocate, check_free, parse_cidr


def test_first_allocation_skips_the_reserved_block() -> None:
    assert allocate([]) == IPv4Network("10.1.0.0/16")


def test_allocation_skips_used_blocks_including_smaller_ones() -> None:
    used = [IPv4Network("10.1.0.0/16"), IPv4Network("10.2.64.0/20")]
    assert allocate(used) == IPv4Network("10.3.0.0/16")


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=40))
def test_tenants_never_overlap(seeded: list[int]) -> None:
    used = list({IPv4Network(f"10.{n}.0.0/16") for n in seeded})
    fresh = allocate(used)
    assert not any(fresh.overlaps(u) for u in [*used, *RESERVED])
    assert fresh.subnet_of(IPv4Network("10.0.0.0/8"))


def test_sequential_allocations_are_disjoint() -> None:
    used: list[IPv4Network] = []
    for _ in range(30):
        used.append(allocate(used))
    assert len({str(u) for u in used}) == 30
    assert all(not a.overlaps(b) for i, a in enumerate(used) for b in used[i + 1 :])


def test_pool_exhaustion_is_a_clear_error() -> None:
    pool = IPv4Network("10.0.0.0/14")  # 10.0 (reserved), 10.1, 10.2, 10.3
    used = [IPv4Network(f"10.{n}.0.0/16") for n in (1, 2, 3)]
    with pytest.raises(CidrError, match="no free /16 left"):
        allocate(used, pool=pool)


def test_explicit_cidr_overlapping_a_tenant_is_refused() -> None:
    with pytest.raises(CidrError, match=r"overlaps 10\.7\.0\.0/16"):
        check_free(IPv4Network("10.7.16.0/20"), [IPv4Network("10.7.0.0/16")])
    with pytest.raises(CidrError, match=r"10\.0\.0\.0/16"):
        check_free(IPv4Network("10.0.0.0/16"), [])
    check_free(IPv4Network("172.16.0.0/16"), [IPv4Network("10.7.0.0/16")])


@pytest.mark.parametrize("text", ["10.0.0.1/16", "banana", "10.0.0.0/33"])
def test_malformed_cidr_is_refused(text: str) -> None:
    with pytest.raises(CidrError, match="not an IPv4 network"):
        parse_cidr(text)
