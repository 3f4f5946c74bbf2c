"""`enclave tenant add | list`: tenants of this gateway (a shared gateway serves several)."""

from __future__ import annotations

from typing import Annotated

import typer

from auth.roles import Role
from enclave.cli.common import (
    TYPER_OPTIONS,
    JsonOption,
    cli_actor,
    console,
    opened_services,
    print_json,
    print_table,
    table,
    when,
)

tenant_app = typer.Typer(help="Tenants served by this gateway.", **TYPER_OPTIONS)


@tenant_app.command("add")
def tenant_add(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="lowercase id, e.g. acme")],
    name: Annotated[str | None, typer.Option(metavar="NAME", help="display name")] = None,
    hostname: Annotated[
        str | None, typer.Option(metavar="HOST", help="host name that serves this tenant (shared mode)")
    ] = None,
    default_role: Annotated[Role, typer.Option(help="role of users created at first sign-in")] = Role.VIEWER,
) -> None:
    """Add a tenant (a shared gateway, ENCLAVE_MODE=shared, serves several; a dedicated one only its own)."""
    with opened_services() as services:
        services.tenants.add(cli_actor(), tenant_id, display_name=name, hostname=hostname, default_role=default_role)
    console.print(f"tenant [bold]{tenant_id}[/] added")


@tenant_app.command("list")
def tenant_list(as_json: JsonOption = False) -> None:
    """List tenants."""
    with opened_services() as services:
        tenants = services.tenants.list()
    if as_json:
        print_json(
            [
                {
                    "id": t.id,
                    "name": t.display_name,
                    "hostname": t.hostname,
                    "default_role": t.default_role,
                    "created_at": t.created_at,
                    "disabled_at": t.disabled_at,
                }
                for t in tenants
            ]
        )
        return
    rows = table("id", "name", "host name", "default role", "created (UTC)")
    for t in tenants:
        rows.add_row(t.id, t.display_name, t.hostname or "", t.default_role, when(t.created_at))
    print_table(rows)
