"""Object keys: what a caller may name, and how it becomes a key under the grant's prefix.

A caller names a key relative to the grant's prefix. Anything that could reach outside the prefix, or that
could mean one thing to us and another to the store, is refused rather than repaired: `.` segments, any
segment starting with `..` (`..`, `..;`, `..name`, `....`), absolute paths, empty segments, backslashes,
percent-encoded sequences, control and invisible format characters, and Unicode compatibility characters
(full-width dots and slashes and other look-alikes, which NFKC folds into ASCII). Keys are NFC-normalised so
that one name has one spelling."""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_KEY_BYTES = 1024  # S3's and GCS's limit for a whole object name, prefix included
MAX_PREFIX_BYTES = 511  # a normalised prefix with its trailing '/' (the grants table's column)
PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Slash and dot look-alikes that NFKC leaves alone.
LOOKALIKES = frozenset("\u2215\u2044\u29f8\u2571\u29f5\u2216\u2024\u2025\u2026\u00b7\u2027\u3002")


class KeyPolicyError(ValueError):
    """A key (or prefix) that is refused; the message says why, without echoing control characters."""


SAFE_ASCII = re.compile(r"[\x20-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash: NFKC leaves it alone
SAFE_ASCII_RUNS = re.compile(r"[\x20-\x5b\x5d-\x7e]+")
# A segment that may need a closer look: one starting with '.', or with white space before a '.'.
DOT_SEGMENT_HINT = re.compile(r"(?:^|/)\s*\.")


@functools.lru_cache(maxsize=8192)
def _character_problem(char: str) -> str | None:
    """Why one character is refused (None: it is not); cached, since keys repeat their characters."""
    if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return f"a control or invisible character (U+{ord(char):04X})"
    if char == "\\":
        return "a backslash; use '/' between segments"
    if char in LOOKALIKES:
        return f"U+{ord(char):04X}, which looks like '/' or '.'"
    return None


def _check_characters(text: str, what: str) -> None:
    ascii_only = SAFE_ASCII.fullmatch(text) is not None
    if not ascii_only:
        # Only the characters outside printable ASCII need a look, each once, in order of appearance.
        for char in dict.fromkeys(SAFE_ASCII_RUNS.sub("", text)):
            problem = _character_problem(char)
            if problem is not None:
                raise KeyPolicyError(f"{what} contains {problem}")
    if PERCENT_ESCAPE.search(text):
        raise KeyPolicyError(f"{what} contains a percent-encoded sequence; send keys decoded")
    if not ascii_only and not unicodedata.is_normalized("NFKC", text):
        raise KeyPolicyError(f"{what} contains Unicode compatibility characters (look-alikes); use their plain form")


def _check_segments(text: str, what: str) -> None:
    if "//" not in text and text[-1] != "/" and text[0] != "/" and DOT_SEGMENT_HINT.search(text) is None:
        return  # no empty segment, and no segment that starts with '.' even after white space
    if text.startswith("/"):
        raise KeyPolicyError(f"{what} must be relative (no leading '/')")
    for segment in text.split("/"):
        if segment == "":
            raise KeyPolicyError(f"{what} contains an empty segment ('//' or a trailing '/')")
        bare = segment.strip()
        if bare == "..":
            raise KeyPolicyError(f"{what} contains a '..' segment" + (" padded with spaces" if bare != segment else ""))
        if bare.startswith(".."):
            # '..;' is '..' to servers that strip path parameters (Tomcat, Spring); any segment opening with
            # '..' ('..globex', '....') is refused with it, so that no segment can pass for a parent reference.
            raise KeyPolicyError(f"{what} contains a segment starting with '..' ({_shown(segment)})")
        if bare == "." or bare.startswith(".;"):
            raise KeyPolicyError(f"{what} contains a '.' segment" + (" padded with spaces" if bare != segment else ""))


def _shown(segment: str) -> str:
    """A refused segment as the message shows it: printable (characters are checked before segments)."""
    return repr(segment if len(segment) <= 40 else segment[:40] + "...")


def normalize_prefix(prefix: str) -> str:
    """A grant's prefix: empty (the whole bucket) or relative segments ending in '/'."""
    if prefix == "":
        return ""
    text = unicodedata.normalize("NFC", prefix.removesuffix("/"))
    _check_characters(text, "prefix")
    _check_segments(text, "prefix")
    if len(text.encode()) + 1 > MAX_PREFIX_BYTES:
        raise KeyPolicyError(f"prefix is longer than {MAX_PREFIX_BYTES - 1} bytes")
    return text + "/"


def object_key(prefix: str, key: str) -> str:
    """The full object name for `key` under `prefix` (already normalised), or KeyPolicyError."""
    if not isinstance(key, str) or key == "":
        raise KeyPolicyError("key is empty")
    if len(key) > MAX_KEY_BYTES:
        raise KeyPolicyError(f"key is longer than {MAX_KEY_BYTES} bytes")
    text = unicodedata.normalize("NFC", key)
    _check_characters(text, "key")
    _check_segments(text, "key")
    full = prefix + text
    size = len(full) if full.isascii() else len(full.encode())
    if size > MAX_KEY_BYTES:
        raise KeyPolicyError(f"key is {size} bytes with the prefix; the limit is {MAX_KEY_BYTES}")
    return full


def relative_key(prefix: str, full: str) -> str:
    """The caller's view of a full object name (the inverse of object_key)."""
    if not full.startswith(prefix):
        raise KeyPolicyError("object is outside the grant's prefix")
    return full[len(prefix) :]
