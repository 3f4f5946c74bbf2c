"""`enclave audit sync enable | disable | status | run` and `enclave audit verify-bucket`: the audit log synced
into the tenant's own storage grant, and the check of the whole synced history read back through it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from enclave.cli.audit.app import audit_app, sync_app
from enclave.cli.audit.verify import load_public_keys
from enclave.cli.common import (
    JsonOption,
    TenantOption,
    console,
    errors,
    fail,
    opened_services,
    operator_access,
    print_json,
    print_table,
    table,
    when,
)

GrantOption = Annotated[str, typer.Option("--grant", metavar="GRANT", help="the storage grant (name or id)")]
PREFIX_HELP = "under the grant's prefix, ending in '/'"


@sync_app.command("enable")
def sync_enable(
    tenant: TenantOption,
    grant: GrantOption,
    prefix: Annotated[str, typer.Option(metavar="PREFIX", help=PREFIX_HELP)] = "enclave-audit/",
) -> None:
    """Sync the tenant's audit log into its grant every ENCLAVE_AUDIT_SYNC_SECONDS (audited)."""
    with opened_services() as services:
        status = services.audit.sync.enable(operator_access(services, tenant), grant, prefix)
    console.print(
        f"syncing the audit log of {tenant} into grant {grant} under {status.prefix} (first sync: within a minute "
        "in a serving gateway, or now with `enclave audit sync run`)",
        highlight=False,
    )


@sync_app.command("disable")
def sync_disable(tenant: TenantOption, grant: GrantOption) -> None:
    """Stop syncing into the grant (audited); what the bucket holds stays."""
    with opened_services() as services:
        services.audit.sync.disable(operator_access(services, tenant), grant)
    console.print(f"no longer syncing the audit log of {tenant} into grant {grant}", highlight=False)


@sync_app.command("status")
def sync_status(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """Each sync target: ok, behind, failing (with the reason and the count) or never-synced."""
    with opened_services() as services:
        found = services.audit.sync.status(operator_access(services, tenant))
    if as_json:
        print_json([status.to_json() for status in found])
        return
    if not found:
        console.print(f"the audit log of {tenant} is not synced anywhere (`enclave audit sync enable`)")
        return
    result = table("grant", "prefix", "state", "synced", "synced at", "failures", "last failure", "next attempt")
    for status in found:
        result.add_row(
            status.grant_id,
            status.prefix,
            status.state,
            f"{status.synced_size} of {status.log_size}",
            when(status.synced_at),
            str(status.failures),
            status.failure or "",
            when(status.next_attempt_at),
        )
    print_table(result)


@sync_app.command("run")
def sync_run(tenant: TenantOption, grant: GrantOption) -> None:
    """Sync into the grant now. Exit 1 when the sync fails (recorded on the target and audited)."""
    with opened_services() as services:
        outcome = services.audit.sync.run_now(operator_access(services, tenant), grant)
    if outcome.error is not None:
        fail(f"the sync failed (the bucket's newest head still covers {outcome.size} records): {outcome.error}")
    done = "synced" if outcome.synced else "already synced"
    console.print(f"{done}: the bucket's newest signed head covers {outcome.size} records", highlight=False)


@audit_app.command("verify-bucket")
def audit_verify_bucket(
    tenant: TenantOption,
    grant: GrantOption,
    public_key: Annotated[
        list[Path],
        typer.Option(metavar="PEM_FILE", help="the gateway's audit public key (PEM), trusted out of band"),
    ],
    prefix: Annotated[str | None, typer.Option(metavar="PREFIX", help=f"{PREFIX_HELP}; default: the target's")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the whole synced history in the grant, read back through it: every head signed and consistent with
    the one before, every segment intact. Exit 1 on any break, naming the object."""
    keys = load_public_keys(public_key)
    with opened_services() as services:
        report = services.audit.sync.verify_bucket(operator_access(services, tenant), grant, keys, prefix)
    if as_json:
        print_json(report.to_json())
    elif report.ok:
        console.print(f"[green]OK[/]: {report.summary()}", highlight=False)
    else:
        errors.print("[bold red]FAILED[/]: the synced history did not verify")
        errors.print(report.summary(), highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)
