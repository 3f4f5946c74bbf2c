"""The tenant-name rule, once for every package."""

from __future__ import annotations

import pytest

from tenancy.names import (
    TENANT_NAME_MAX,
    TENANT_NAME_MIN,
    TENANT_NAME_SCHEMA_PATTERN,
    check_tenant_name,
    is_tenant_name,
)


@pytest.mark.parametrize("name", ["acme", "abc", "a1-b2", "acme-corp", "x" * 20])
def test_valid_names(name: str) -> None:
    assert is_tenant_name(name)
    assert check_tenant_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "x" * 21,  # too long for cloud resource names with suffixes
        "acme\n",  # a `$`-anchored match lets this through; a full match does not
        "\nacme",
        "Acme",
        "1acme",
        "acme-",
        "ac--me",
        "-acme",
        "acme.corp",
        "acme corp",
        "",
    ],
)
def test_invalid_names(name: str) -> None:
    assert not is_tenant_name(name)
    with pytest.raises(ValueError, match="tenant name"):
        check_tenant_name(name)


def test_non_strings_are_not_names() -> None:
    assert not is_tenant_name(None)
    assert not is_tenant_name(42)


def test_schema_pattern_agrees_with_the_rule() -> None:
    import re

    pattern = re.compile(TENANT_NAME_SCHEMA_PATTERN)
    for name in ["acme", "a1-b2", "x" * 20, "ab", "x" * 21, "ac--me", "acme-", "Acme"]:
        in_schema = pattern.search(name) is not None and TENANT_NAME_MIN <= len(name) <= TENANT_NAME_MAX
        assert in_schema == is_tenant_name(name), name
