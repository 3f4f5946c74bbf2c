"""Key policy: what escapes the prefix, or could mean something else to the store, is refused."""

from __future__ import annotations

import posixpath
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage_connector.keys import MAX_KEY_BYTES, KeyPolicyError, normalize_prefix, object_key

PREFIX = "tenants/acme/"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty"),
        ("..", "'..' segment"),
        ("../other/x", "'..' segment"),
        ("a/../../b", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("a/ .. /b", "padded"),
        # any segment starting with '..': '..;' is '..' to servers that strip path parameters (Tomcat, Spring)
        ("..;", "starting with '..'"),
        ("..;/globex/x", "starting with '..'"),
        ("a/..;/b", "starting with '..'"),
        ("..;jsessionid=1/x", "starting with '..'"),
        ("..globex", "starting with '..'"),
        ("..globex/secret", "starting with '..'"),
        ("x/..globex", "starting with '..'"),
        ("....", "starting with '..'"),
        (".../x", "starting with '..'"),
        ("a/..../b", "starting with '..'"),
        ("a/ ..x/b", "starting with '..'"),
        (".;/x", "'.' segment"),
        ("a/.;p/b", "'.' segment"),
        ("/etc/passwd", "relative"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a\\..\\b", "backslash"),
        ("%2e%2e/x", "percent-encoded"),
        ("a%2Fb", "percent-encoded"),
        ("..%2f", "percent-encoded"),
        ("\uff0e\uff0e/x", "compatibility"),  # full-width dots
        ("a\uff0fb", "compatibility"),  # full-width solidus
        ("a\u2215b", "looks like"),  # division slash
        ("a\u2044b", "looks like"),  # fraction slash
        ("\u2024\u2024/x", "looks like"),  # one dot leader
        ("a\u0000b", "control"),
        ("a\nb", "control"),
        ("a\u202eb", "control"),  # right-to-left override
        ("a\u200bb", "control"),  # zero-width space
        ("a\ud800b", "control"),  # lone surrogate
        ("x" * (MAX_KEY_BYTES + 1), "longer"),
        ("é" * 520, "bytes with the prefix"),
    ],
)
def test_refused_keys(key: str, why: str) -> None:
    with pytest.raises(KeyPolicyError, match=why):
        object_key(PREFIX, key)


def test_accepted_keys_are_normalised_and_confined() -> None:
    assert object_key(PREFIX, "a..b/c.") == "tenants/acme/a..b/c."  # dots inside or at the end are names
    assert object_key(PREFIX, ".hidden/x") == "tenants/acme/.hidden/x"
    assert object_key(PREFIX, "reports/2026 Q1 (final).pdf") == "tenants/acme/reports/2026 Q1 (final).pdf"
    assert object_key(PREFIX, "cafe\u0301") == "tenants/acme/caf\u00e9"  # NFC
    assert object_key(PREFIX, "a+b=c&d?e#f") == "tenants/acme/a+b=c&d?e#f"
    assert object_key("", "x") == "x"


@pytest.mark.parametrize(
    "prefix", ["/abs", "a/../b", "a//b", "%2e", "a\x00", "..;", "tenants/..;", "..globex", "tenants/....", "x" * 511]
)
def test_refused_prefixes(prefix: str) -> None:
    with pytest.raises(KeyPolicyError):
        normalize_prefix(prefix)


def test_prefix_normalisation() -> None:
    assert normalize_prefix("") == ""
    assert normalize_prefix("tenants/acme") == "tenants/acme/"
    assert normalize_prefix("tenants/acme/") == "tenants/acme/"
    assert normalize_prefix("x" * 510) == "x" * 510 + "/"  # 511 bytes with the '/', the column's size


@given(st.text(min_size=1, max_size=60))
def test_every_accepted_key_stays_under_the_prefix(key: str) -> None:
    try:
        full = object_key(PREFIX, key)
    except KeyPolicyError:
        return
    assert full.startswith(PREFIX)
    assert posixpath.normpath("/" + full).startswith("/" + PREFIX.rstrip("/"))
    assert not any(segment.strip().startswith("..") for segment in full.split("/"))
    assert not re.search(r"%[0-9A-Fa-f]{2}", full)
