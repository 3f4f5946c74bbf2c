"""The canonical encoding: orjson's fast path is byte-identical to the standard-library reference on the
whole canonical domain, and values outside the domain are refused."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalEncodingError,
    canonical_bytes,
    canonical_bytes_reference,
    check_canonical,
)

# st.text() never produces lone surrogates, so every string here is valid Unicode.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.text(),
    st.text(st.characters(max_codepoint=0x7F)),  # control characters and the escaping rules
    st.text(st.characters(min_codepoint=0x10000)),  # astral plane: key order by code point
)
canonical_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=40,
)


@given(canonical_values)
def test_fast_path_matches_the_reference_byte_for_byte(value: object) -> None:
    check_canonical(value)
    assert canonical_bytes(value) == canonical_bytes_reference(value)


@given(st.dictionaries(st.text(), st.integers(0, 9), min_size=2, max_size=12))
def test_keys_are_sorted_identically(value: dict[str, int]) -> None:
    assert canonical_bytes(value) == canonical_bytes_reference(value)


def test_known_encoding() -> None:
    value = {"b": [1, True, None], "a": "é\n\u2028", "c": {"z": -5, "y": ""}}
    expected = '{"a":"é\\n\u2028","b":[1,true,null],"c":{"y":"","z":-5}}'.encode()
    assert canonical_bytes(value) == expected
    assert canonical_bytes_reference(value) == expected


outside = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=MAX_SAFE_INTEGER + 1),
    st.integers(max_value=-MAX_SAFE_INTEGER - 1),
    st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800"]),  # lone surrogates
    st.binary(min_size=0, max_size=4),
    st.sets(st.integers(), max_size=2),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),  # non-string keys
)


@given(bad=outside, data=st.data())
def test_values_outside_the_domain_are_refused_wherever_they_are(bad: object, data: st.DataObject) -> None:
    wrapper = data.draw(st.sampled_from(["bare", "list", "dict", "deep"]))
    value: object = {
        "bare": bad,
        "list": [1, "x", bad],
        "dict": {"ok": 1, "bad": bad},
        "deep": {"a": [{"b": [None, bad]}]},
    }[wrapper]
    with pytest.raises(CanonicalEncodingError):
        check_canonical(value)


def test_error_names_the_path() -> None:
    with pytest.raises(CanonicalEncodingError, match=r"\$\.a\[1\]: float is not allowed"):
        check_canonical({"a": [1, math.pi]})
    with pytest.raises(CanonicalEncodingError, match=r"\$\.k: integer out of the safe range"):
        check_canonical({"k": 2**53})
    with pytest.raises(CanonicalEncodingError, match="lone surrogate"):
        check_canonical(["\ud83d"])


def test_safe_integer_bounds_are_inside_the_domain() -> None:
    for value in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0):
        check_canonical(value)
        assert canonical_bytes(value) == canonical_bytes_reference(value)
