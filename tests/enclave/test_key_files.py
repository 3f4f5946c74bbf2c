"""Keys the embedded default keeps in data_dir: made once, owner-readable, whole for every process that starts
at the same moment (the loser of the race reads the winner's key, never a half-written or a second one)."""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

from enclave.key_files import read_or_create_key_file


def test_a_key_is_made_once_owner_readable_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secrets.key"
    first = read_or_create_key_file(path, lambda: secrets.token_bytes(32))
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_key_file(path, lambda: b"never used") == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.key"]  # no staging file left


def test_processes_starting_together_all_get_the_same_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    start = threading.Barrier(16)
    seen: list[bytes] = []

    def make() -> bytes:
        return secrets.token_bytes(4096)  # large enough that a torn write would show

    def starter() -> None:
        start.wait()
        seen.append(read_or_create_key_file(path, make))

    threads = [threading.Thread(target=starter) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16 and len(set(seen)) == 1 and len(seen[0]) == 4096
    assert os.listdir(tmp_path) == ["secrets.key"]
