"""The README's demo runs end to end on embedded defaults (no cloud, no external service)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_readme_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "enclave.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "OK" in output  # the export verified
    assert "FAILED" in output  # the tampered copy did not
    assert "OK: the synced history verified" in output  # the customer's script on the honest bucket
    assert "segments/00000000000000000001-" in output  # the rewritten synced segment, named
    demo = tmp_path / ".enclave" / "demo"
    assert (demo / "acme-audit.jsonl").stat().st_size > 0
    assert (demo / "acme-audit.csv").exists() and (demo / "acme-audit.ocsf").exists()
    for page in ("it-admin-admin-users", "it-admin-admin-audit", "it-admin-admin-storage", "end-user-files"):
        assert (demo / "console" / f"{page}.png").read_bytes().startswith(b"\x89PNG")  # a screenshot per page
    assert not (demo / "console" / "end-user-admin-users.png").exists()  # an end user's navigation has no admin pages
    for name in ("acme", "globex", "initech"):
        assert (demo / "stacks" / f"Pulumi.{name}.yaml").exists()
    assert "enc_" not in result.stdout  # no API key secret printed by the demo
