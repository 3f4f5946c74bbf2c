"""The `enclave audit` command group, which the modules of this package add their commands to."""

from __future__ import annotations

import typer

from enclave.cli.common import TYPER_OPTIONS

audit_app = typer.Typer(help="The tamper-evident audit log.", **TYPER_OPTIONS)
sync_app = typer.Typer(help="Continuous sync of the audit log into the tenant's own bucket.", **TYPER_OPTIONS)
audit_app.add_typer(sync_app, name="sync")
