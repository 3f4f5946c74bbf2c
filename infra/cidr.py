"""Network blocks for tenants: one /16 each from a pool, never overlapping another tenant's, so any two
tenant networks can be peered or reached over PrivateLink without address clashes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Network

DEFAULT_POOL = IPv4Network("10.0.0.0/8")
RESERVED = (IPv4Network("10.0.0.0/16"),)  # kept for the platform's own networks and cloud defaults
TENANT_PREFIX = 16


class CidrError(ValueError):
    """No block can be allocated, or the requested one clashes with a block in use."""


def parse_cidr(text: str) -> IPv4Network:
    try:
        return IPv4Network(text, strict=True)
    except ValueError as exc:
        raise CidrError(f"{text!r} is not an IPv4 network in CIDR form (e.g. 10.42.0.0/16): {exc}") from exc


def overlapping(cidr: IPv4Network, used: Iterable[IPv4Network]) -> list[IPv4Network]:
    return [u for u in used if u.overlaps(cidr)]


def check_free(cidr: IPv4Network, used: Iterable[IPv4Network]) -> None:
    """Refuse an explicitly requested block that overlaps a tenant's block or a reserved one."""
    if clashes := overlapping(cidr, [*used, *RESERVED]):
        raise CidrError(f"{cidr} overlaps {', '.join(map(str, sorted(set(clashes))))}, already in use")


def allocate(used: Iterable[IPv4Network], pool: IPv4Network = DEFAULT_POOL, prefix: int = TENANT_PREFIX) -> IPv4Network:
    """The first /`prefix` block of `pool` that overlaps neither a used block nor a reserved one."""
    if prefix < pool.prefixlen:
        raise CidrError(f"cannot carve /{prefix} blocks out of the /{pool.prefixlen} pool {pool}")
    taken = [*used, *RESERVED]
    # Collapse to sort and merge; a candidate is free when no taken block overlaps it.
    merged = list(ipaddress.collapse_addresses(n for n in taken if n.overlaps(pool)))
    for candidate in pool.subnets(new_prefix=prefix):
        if not any(m.overlaps(candidate) for m in merged):
            return candidate
    raise CidrError(f"the pool {pool} has no free /{prefix} left; pass --cidr with a block from another range")
