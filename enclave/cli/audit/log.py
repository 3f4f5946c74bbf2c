"""`enclave audit export | prune | keygen | public-key`: the log itself, its retention and its signing key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from enclave.cli.audit.app import audit_app
from enclave.cli.common import (
    TenantOption,
    console,
    errors,
    fail,
    opened_services,
    operator_access,
    parse_time,
    settings,
    usage,
)

FORMATS = ("jsonl", "csv", "ocsf")


def _writable_target(out: Path) -> None:
    """Refuse an output path that cannot be written before anything is audited or exported."""
    if out.is_dir():
        fail(f"--out {out} is a directory; give a file name")
    parent = out.parent
    if not parent.is_dir():
        fail(f"--out {out}: the folder {parent} does not exist")


@audit_app.command("export")
def audit_export(
    tenant: TenantOption,
    out: Annotated[Path, typer.Option(metavar="FILE", help="file to write")],
    since: Annotated[
        str | None, typer.Option(metavar="TIME", help="from this time (inclusive), ISO 8601, UTC if no zone")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="TIME", help="to this time (exclusive), ISO 8601, UTC if no zone")
    ] = None,
    export_format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="jsonl (verifiable) | csv | ocsf")
    ] = "jsonl",
) -> None:
    """Export a tenant's audit log (the export itself is audited)."""
    from enclave.services.audit_export import ExportError, ExportFailedError, ExportFormat

    if export_format not in FORMATS:
        usage(f"--format must be one of: {', '.join(FORMATS)}")
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start is not None and end is not None and start >= end:
        usage("--since must be earlier than --until")
    _writable_target(out)
    with opened_services() as services:
        try:
            prepared = services.audit.export(
                operator_access(services, tenant), since=start, until=end, export_format=ExportFormat(export_format)
            )
        except ExportError as exc:
            fail(str(exc))
        partial = out.with_name(out.name + ".partial")
        progress = Progress(
            TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=errors
        )
        try:
            with progress, partial.open("wb") as handle:
                task = progress.add_task("export", total=prepared.total)
                count = prepared.write(handle, on_record=lambda: progress.advance(task))
        except ExportFailedError as exc:
            fail(f"{exc}; what was written is in {partial}, which no verifier accepts as complete")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
        partial.replace(out)  # a crash leaves a .partial file, never a truncated export under the real name
    console.print(f"exported {count} records of tenant {tenant} to {out} ({export_format})")


@audit_app.command("prune")
def audit_prune(
    tenant: TenantOption,
    before: Annotated[
        str, typer.Option(metavar="TIME", help="remove records older than this (ISO 8601, UTC if no zone)")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
) -> None:
    """Remove old records under the retention policy, leaving a signed anchor so later exports verify."""
    cutoff = parse_time(before, "--before")
    assert cutoff is not None
    if cutoff > datetime.now(UTC):
        usage("--before is in the future")
    if not yes and not typer.confirm(f"Remove tenant {tenant}'s audit records older than {cutoff.isoformat()}?"):
        raise typer.Exit(1)
    with opened_services() as services:
        anchor = services.audit.prune(operator_access(services, tenant), cutoff)
    if anchor is None:
        console.print("nothing older than that; nothing removed")
    else:
        console.print(f"removed records up to {anchor.seq}; signed anchor left ({anchor.pruned_count} pruned in all)")


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Print a new Ed25519 audit signing key (PEM) for a stack secret or ENCLAVE_AUDIT_SIGNING_KEY.

    Store it only in a secret store, e.g.:
    enclave audit keygen | pulumi config set --secret enclave:auditSigningKey
    """
    from audit.signing import generate_private_key_pem

    print(generate_private_key_pem(), end="")


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the PEM public key that verifies this gateway's exports (give it to your auditors). It never
    makes a key: without one yet, it says so."""
    from audit.signing import SigningKeyError, public_key_pem
    from enclave.runtime import NoSigningKeyError, existing_signing_key

    try:
        key = existing_signing_key(settings())
    except (NoSigningKeyError, SigningKeyError) as exc:
        fail(str(exc))
    print(public_key_pem(key.public_key()), end="")
