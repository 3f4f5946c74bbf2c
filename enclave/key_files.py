"""Keys the embedded default keeps in its data directory (audit signing key, secrets key, local store key):
made once, owner-readable only, and the same for every process that shares the directory."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create_key_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The contents of `path`; when it does not exist, `make()` written there first. The new file is written
    whole under a temporary name and linked into place, so two processes starting at once never read a
    half-written key: the one that loses the race reads the winner's."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs is the key
            os.link(staging, path)
    finally:
        staging.unlink()
    return path.read_bytes()
