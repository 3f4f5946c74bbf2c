"""The Pulumi program (`pulumi up -s <tenant>`): stack config -> TenantSpec -> TenantStack.

The logic lives in infra/program.py so the offline preview runs exactly the same code."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Pulumi runs this file by path

from infra.program import deploy, spec_from_config

deploy(spec_from_config())
