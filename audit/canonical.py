"""Canonical JSON encoding: the exact bytes that record hashes and checkpoint signatures cover.

The encoding is `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` as UTF-8,
restricted to values every JSON implementation agrees on (strings without lone surrogates, integers within
±(2**53 - 1), booleans, null, lists and string-keyed objects; no floats). Within that domain orjson produces
the same bytes much faster; tests/audit/test_canonical.py proves the two byte-identical on random input.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import orjson

MAX_SAFE_INTEGER = 2**53 - 1

JsonValue: TypeAlias = str | int | bool | list["JsonValue"] | dict[str, "JsonValue"] | None


class CanonicalEncodingError(ValueError):
    """A value cannot be encoded canonically (a float, a huge integer, a lone surrogate, a non-string key)."""


def _plain_value(value: Any) -> bool:
    """A value the canonical domain certainly holds, decided without recursion (the common case in details)."""
    kind = type(value)
    if kind is str:
        return bool(value.isascii())  # ASCII has no surrogates; anything else takes the full check
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    return value is None or kind is bool


def check_canonical(value: Any, path: str = "$") -> None:
    """Raise CanonicalEncodingError, naming the offending path, unless `value` is in the canonical domain."""
    if type(value) is dict and all(
        type(key) is str and key.isascii() and _plain_value(item) for key, item in value.items()
    ):
        return  # a flat object of plain values: what the full walk below would accept
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalEncodingError(f"{path}: integer out of the safe range ±(2**53-1)")
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalEncodingError(f"{path}: string is not valid Unicode (lone surrogate)") from None
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_canonical(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalEncodingError(f"{path}: object key {key!r} is not a string")
            check_canonical(key, f"{path}.<key>")
            check_canonical(item, f"{path}.{key}")
        return
    raise CanonicalEncodingError(f"{path}: {type(value).__name__} is not allowed (use str, int, bool, null)")


def field_problem(data: dict[str, Any], fields: tuple[str, ...], what: str) -> str | None:
    """Why the JSON object `data` does not carry exactly `fields` (missing first, then unknown), or None."""
    missing = [name for name in fields if name not in data]
    if missing:
        return f"{what} is missing {', '.join(missing)}"
    extra = sorted(set(data) - set(fields))
    if extra:
        return f"{what} has unknown fields {', '.join(extra)}"
    return None


def canonical_bytes(value: Any) -> bytes:
    """The canonical encoding of a value already known to be in the canonical domain (fast path)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def canonical_bytes_reference(value: Any) -> bytes:
    """The reference encoding with the standard library; the definition `canonical_bytes` must match."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
