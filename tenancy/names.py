"""The tenant-name rule: one definition for stacks, tenants, audit records, settings and the API.

A tenant name becomes part of cloud resource names (with suffixes, under every cloud's length limits), DNS
labels, audit records and URLs, so it is short, lowercase and plain: 3 to 20 letters, digits and single
hyphens, starting with a letter and ending with a letter or digit."""

from __future__ import annotations

import re

TENANT_NAME_MIN, TENANT_NAME_MAX = 3, 20
TENANT_NAME_REGEX = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
TENANT_NAME_PATTERN = re.compile(TENANT_NAME_REGEX)
# For schemas (OpenAPI, pydantic `pattern`, which has no look-ahead): anchored; pair it with
# min_length=TENANT_NAME_MIN and max_length=TENANT_NAME_MAX.
TENANT_NAME_SCHEMA_PATTERN = rf"^{TENANT_NAME_REGEX}$"
TENANT_NAME_RULE = (
    f"a tenant name is {TENANT_NAME_MIN} to {TENANT_NAME_MAX} lowercase letters, digits and single hyphens, "
    "starting with a letter and ending with a letter or digit"
)


def is_tenant_name(value: object) -> bool:
    """Whether `value` is a valid tenant name (a full match: no trailing newline slips through)."""
    return (
        isinstance(value, str)
        and TENANT_NAME_MIN <= len(value) <= TENANT_NAME_MAX
        and TENANT_NAME_PATTERN.fullmatch(value) is not None
    )


def check_tenant_name(value: str) -> str:
    """`value` unchanged when it is a valid tenant name; ValueError saying the rule otherwise."""
    if not is_tenant_name(value):
        raise ValueError(f"{value!r} is not a valid tenant name: {TENANT_NAME_RULE}")
    return value
