"""Layering (docs/CONVENTIONS): infra imports only `tenancy` among the project's packages, so the Pulumi
program and its preview run without the gateway, and the gateway's code never leaks into a tenant stack. Run
by import-linter, which sees every import, including those inside functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("infra", "tenancy", "enclave", "auth", "storage_connector", "audit")
CONTRACT = """
[importlinter]
root_packages =
{roots}

[importlinter:contract:infra-imports-only-tenancy]
name = infra imports only tenancy among the project's packages
type = forbidden
source_modules =
    infra
forbidden_modules =
{forbidden}
"""


def test_infra_imports_only_tenancy(tmp_path: Path) -> None:
    config = tmp_path / "importlinter.ini"
    config.write_text(
        CONTRACT.format(
            roots="\n".join(f"    {p}" for p in PROJECT_PACKAGES),
            forbidden="\n".join(f"    {p}" for p in PROJECT_PACKAGES if p not in ("infra", "tenancy")),
        )
    )
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout
