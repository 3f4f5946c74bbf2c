"""docs/gateway.md's settings table names every setting the gateway reads (a new one must be documented)."""

from __future__ import annotations

import re
from pathlib import Path

from enclave.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_gateway_docs_table() -> None:
    text = (ROOT / "docs" / "gateway.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}
    missing = sorted(set(Settings.model_fields) - documented)
    assert not missing, f"document these settings in docs/gateway.md: {missing}"
    stray = sorted(documented - set(Settings.model_fields))
    assert not stray, f"docs/gateway.md documents settings that do not exist: {stray}"
