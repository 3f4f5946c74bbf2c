"""What a set of address ranges covers, as a set: the union of the sources, not their spelling.

`0.0.0.0/1` + `128.0.0.0/1` is the whole IPv4 internet just as `0.0.0.0/0` is, and `::/1` + `8000::/1` the
whole IPv6 one; a rule asks which part of the union lies outside the trusted ranges (the tenant's allow list
and its own networks), and any such part is a violation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WORLD = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def parse(values: Iterable[object]) -> list[Network] | None:
    """Parsed CIDRs (host bits ignored), or None when any entry is not a CIDR (malformed or unknown)."""
    try:
        return [ipaddress.ip_network(str(v).strip(), strict=False) for v in values]
    except ValueError:
        return None


def _minus(network: Network, holes: list[Network]) -> list[Network]:
    """`network` without every range of `holes` (same IP version), as a list of CIDRs."""
    pieces = [network]
    for hole in holes:
        next_pieces: list[Network] = []
        for piece in pieces:
            if piece.version != hole.version or not piece.overlaps(hole):
                next_pieces.append(piece)
            elif piece.subnet_of(hole):  # type: ignore[arg-type]
                continue
            else:  # the hole lies inside the piece
                next_pieces.extend(piece.address_exclude(hole))  # type: ignore[arg-type]
        pieces = next_pieces
    return pieces


def uncovered(sources: Iterable[Network], trusted: Iterable[Network]) -> list[Network]:
    """The part of the union of `sources` outside the union of `trusted`, collapsed to the fewest CIDRs."""
    holes = list(trusted)
    rest = [piece for source in sources for piece in _minus(source, holes)]
    v4 = [n for n in rest if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in rest if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def covers_world(sources: Iterable[Network]) -> bool:
    """Whether the union of `sources` is the whole IPv4 or the whole IPv6 address space."""
    collapsed = uncovered(sources, [])
    return any(n in collapsed for n in WORLD)


def describe(networks: Iterable[Network]) -> str:
    networks = list(networks)
    more = f" and {len(networks) - 4} more" if len(networks) > 4 else ""
    return ", ".join(str(n) for n in networks[:4]) + more


def outside(values: Iterable[object], trusted: Iterable[str]) -> str | None:
    """None when every range of `values` lies inside `trusted`, else which addresses lie outside (said as
    "the whole internet" when the sources together cover every address); a value that is not a CIDR counts
    as outside (fail closed)."""
    values = list(values)
    parsed = parse(values)
    if parsed is None:
        return f"{values} (not all CIDRs)"
    rest = uncovered(parsed, [ipaddress.ip_network(c, strict=False) for c in trusted])
    if not rest:
        return None
    if covers_world(parsed):
        union = describe(uncovered(parsed, []))
        spelled = ", ".join(str(v) for v in values)
        return f"the whole internet ({union})" if spelled == union else f"the whole internet ({union}, as {spelled})"
    return describe(rest)
