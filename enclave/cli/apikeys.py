"""`enclave apikey create | list | revoke`: API keys for scripts, created by the operator for a tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from auth.roles import Role
from enclave.cli.common import (
    TYPER_OPTIONS,
    JsonOption,
    TenantOption,
    console,
    errors,
    opened_services,
    operator_access,
    print_json,
    print_table,
    table,
    when,
)

apikey_app = typer.Typer(help="API keys for scripts.", **TYPER_OPTIONS)


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption,
    role: Annotated[Role, typer.Option(help="what the key may do")],
    name: Annotated[str, typer.Option(metavar="NAME", help="what the key is for")] = "cli",
    ttl_days: Annotated[
        int | None, typer.Option(metavar="DAYS", min=1, help="lifetime in days (default from settings)")
    ] = None,
) -> None:
    """Create an API key. The secret is printed once (on stdout alone) and stored only as a hash."""
    with opened_services() as services:
        issued = services.api_keys.create(operator_access(services, tenant), role=role, name=name, ttl_days=ttl_days)
    errors.print(
        f"API key {issued.key.id} for tenant {tenant}, role {role.value}, expires {issued.key.expires_at:%Y-%m-%d}."
    )
    errors.print("The secret below is shown once; store it now.")
    print(issued.secret)  # stdout alone, so scripts can capture it


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="the key id (the 12 hex characters after enc_)")],
    tenant: TenantOption,
) -> None:
    """Revoke an API key, and every key it created, at once."""
    with opened_services() as services:
        services.api_keys.revoke(operator_access(services, tenant), key_id)
    console.print(f"API key {key_id} revoked")


@apikey_app.command("list")
def apikey_list(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's API keys (never their secrets)."""
    with opened_services() as services:
        keys = services.api_keys.list(operator_access(services, tenant))
    now = datetime.now(UTC)

    def state(expires_at: datetime, revoked: bool) -> str:
        return "revoked" if revoked else "expired" if expires_at <= now else "active"

    if as_json:
        print_json(
            [
                {
                    "id": k.id,
                    "name": k.name,
                    "role": k.role,
                    "created_by": k.created_by,
                    "created_at": k.created_at,
                    "expires_at": k.expires_at,
                    "revoked_at": k.revoked_at,
                    "parent_id": k.parent_id,
                    "state": state(k.expires_at, k.revoked_at is not None),
                }
                for k in keys
            ]
        )
        return
    rows = table("id", "name", "role", "created by", "expires (UTC)", "state")
    for k in keys:
        rows.add_row(
            k.id, k.name, k.role, k.created_by, when(k.expires_at), state(k.expires_at, k.revoked_at is not None)
        )
    print_table(rows)
