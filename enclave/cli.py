"""The `enclave` command line: run the gateway, manage tenants and API keys, export and verify the audit
log, and (through infra) create and preview tenant stacks."""

from __future__ import annotations

import getpass
import importlib.util
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from audit.events import Actor, ActorKind
from audit.store.log import AuditWriteError
from auth.roles import Role
from enclave.cli_output import cli_table
from enclave.settings import Settings, UnknownSettingError
from enclave.sso_cli import sso_app, users_app
from enclave.storage_cli import storage_app
from tenancy.errors import DomainError

# rich_markup_mode=None: plain help that wraps at the terminal's width; Rich's help tables cut option names
# ("--customer-acc…") in an 80-column terminal. Every command group here and in infra/cli.py sets it.
app = typer.Typer(no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False, rich_markup_mode=None)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.", rich_markup_mode=None)
tenant_app = typer.Typer(no_args_is_help=True, help="Tenants served by this gateway.", rich_markup_mode=None)
apikey_app = typer.Typer(no_args_is_help=True, help="API keys for scripts.", rich_markup_mode=None)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.", rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(storage_app, name="storage")
app.add_typer(sso_app, name="sso")
app.add_typer(users_app, name="users")

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # one line, however long
    raise typer.Exit(code)


def cli_actor() -> Actor:
    """The operator at this terminal, as audit records name them."""
    return Actor(ActorKind.OPERATOR, f"cli:{getpass.getuser()}")


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, FileNotFoundError, UnknownSettingError) as exc:
        fail(f"invalid settings: {exc}")


@contextmanager
def opened_runtime():  # type: ignore[no-untyped-def]
    """The runtime for one command; what goes wrong inside becomes one line and an exit code: a refused
    request (any DomainError) exits 2, an unwritable audit log or an unreachable database exits 1."""
    from enclave.db import CONNECTION_ERRORS, DatabaseUnavailableError, unavailable
    from enclave.runtime import Runtime

    try:
        runtime = Runtime.open(load_settings())
    except DatabaseUnavailableError as exc:
        fail(str(exc), 1)
    try:
        yield runtime
    except DomainError as exc:  # a refused request: its message says why, as the API's problem details do
        fail(str(exc))
    except AuditWriteError:
        fail("the audit log cannot be written, so nothing was changed; check the database", 1)
    except CONNECTION_ERRORS as exc:
        fail(str(unavailable(runtime.engine, exc)), 1)
    finally:
        runtime.close()


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time; without a zone it is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T12:00:00Z)")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- gateway -----------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings)")] = None,
) -> None:
    """Run the gateway (migrates the database first)."""
    import uvicorn

    from enclave.app import create_app
    from enclave.db import DatabaseUnavailableError
    from enclave.logging import configure_logging
    from enclave.runtime import Runtime

    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        runtime = Runtime.open(settings)
    except DatabaseUnavailableError as exc:
        fail(str(exc), 1)
    try:
        uvicorn.run(
            create_app(runtime),
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
        )
    finally:
        runtime.close()


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="where to write the OpenAPI document")] = Path("docs/openapi.json"),
) -> None:
    """Write the gateway's OpenAPI document."""
    from enclave.openapi import write_openapi

    write_openapi(out)
    console.print(f"wrote {out}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from enclave.db import CONNECTION_ERRORS, create_db_engine, unavailable, upgrade

    engine = create_db_engine(load_settings().resolved_database_url)
    try:
        upgrade(engine)
    except CONNECTION_ERRORS as exc:
        fail(str(unavailable(engine, exc)), 1)
    finally:
        engine.dispose()
    console.print("database is at the latest schema")


# -- tenants -----------------------------------------------------------------------------------------
@tenant_app.command("add")
def tenant_add(
    tenant_id: Annotated[str, typer.Argument(help="lowercase id, e.g. acme")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    hostname: Annotated[str | None, typer.Option(help="host name that serves this tenant (shared mode)")] = None,
    default_role: Annotated[Role, typer.Option(help="role of users created at first sign-in")] = Role.VIEWER,
) -> None:
    """Add a tenant."""
    from auth.tenants import TenantError, create_tenant
    from enclave.db import transaction

    with opened_runtime() as runtime:
        try:
            with transaction(runtime.sessions) as session:
                create_tenant(
                    session,
                    runtime.audit,
                    cli_actor(),
                    tenant_id,
                    display_name=name,
                    hostname=hostname,
                    default_role=default_role,
                )
        except TenantError as exc:
            fail(str(exc))
    console.print(f"tenant [bold]{tenant_id}[/] added")


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    from auth.tenants import list_tenants

    with opened_runtime() as runtime, runtime.sessions() as session:
        table = cli_table("id", "name", "host name", "default role", "created (UTC)")
        for t in list_tenants(session):
            table.add_row(t.id, t.display_name, t.hostname or "", t.default_role, f"{t.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


# -- API keys ----------------------------------------------------------------------------------------
@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="tenant the key acts for")],
    role: Annotated[Role, typer.Option(help="what the key may do")],
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    ttl_days: Annotated[int | None, typer.Option(help="lifetime in days (default from settings)")] = None,
) -> None:
    """Create an API key. The secret is printed once and stored only as a hash."""
    from auth.apikeys import ApiKeyError, create_api_key
    from enclave.db import transaction

    with opened_runtime() as runtime:
        ttl, max_ttl = runtime.settings.apikey_lifetime(ttl_days)
        try:
            with transaction(runtime.sessions) as session:
                issued = create_api_key(
                    session,
                    runtime.audit,
                    cli_actor(),
                    tenant_id=tenant,
                    role=role,
                    name=name,
                    ttl=ttl,
                    max_ttl=max_ttl,
                )
        except ApiKeyError as exc:
            fail(str(exc))
    errors.print(
        f"API key {issued.key.id} for tenant {tenant}, role {role.value}, expires {issued.key.expires_at:%Y-%m-%d}."
    )
    errors.print("The secret below is shown once; store it now.")
    print(issued.secret)  # stdout alone, so scripts can capture it


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="the key id (the 12 hex characters after enc_)")],
    tenant: Annotated[str, typer.Option(help="tenant the key belongs to")],
) -> None:
    """Revoke an API key at once."""
    from auth.apikeys import ApiKeyError, revoke_api_key
    from enclave.db import transaction

    with opened_runtime() as runtime:
        try:
            with transaction(runtime.sessions) as session:
                revoke_api_key(session, runtime.audit, cli_actor(), tenant_id=tenant, key_id=key_id)
        except ApiKeyError as exc:
            fail(str(exc))
    console.print(f"API key {key_id} revoked")


@apikey_app.command("list")
def apikey_list(tenant: Annotated[str, typer.Option(help="tenant")]) -> None:
    """List a tenant's API keys (never their secrets)."""
    from auth.apikeys import list_api_keys

    with opened_runtime() as runtime, runtime.sessions() as session:
        table = cli_table("id", "name", "role", "created by", "expires (UTC)", "state")
        now = datetime.now(UTC)
        for k in list_api_keys(session, tenant):
            state = "revoked" if k.revoked_at else "expired" if k.expires_at <= now else "active"
            table.add_row(k.id, k.name, k.role, k.created_by, f"{k.expires_at:%Y-%m-%d %H:%M}", state)
    console.print(table)


# -- audit -------------------------------------------------------------------------------------------
@audit_app.command("export")
def audit_export(
    tenant: Annotated[str, typer.Option(help="tenant whose log to export")],
    out: Annotated[Path, typer.Option(help="file to write")],
    since: Annotated[str | None, typer.Option(help="from this time (inclusive), ISO 8601, UTC if no zone")] = None,
    until: Annotated[str | None, typer.Option(help="to this time (exclusive), ISO 8601, UTC if no zone")] = None,
    export_format: Annotated[str, typer.Option("--format", help="jsonl (verifiable) | csv | ocsf")] = "jsonl",
) -> None:
    """Export a tenant's audit log (the export itself is audited)."""
    from enclave.audit_export import ExportError, ExportFailedError, ExportFormat, prepare_export

    try:
        chosen = ExportFormat(export_format)
    except ValueError:
        fail(f"--format must be one of: {', '.join(f.value for f in ExportFormat)}")
    if out.exists() and out.is_dir():
        fail(f"{out} is a directory")
    with opened_runtime() as runtime:
        try:
            prepared = prepare_export(
                runtime,
                cli_actor(),
                tenant,
                since=parse_time(since, "--since"),
                until=parse_time(until, "--until"),
                export_format=chosen,
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
            fail(f"{exc}; what was written is in {partial}, which no verifier accepts as complete", 1)
        partial.replace(out)  # a crash leaves a .partial file, never a truncated export under the real name
    console.print(f"exported {count} records of tenant {tenant} to {out} ({chosen.value})")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="a JSONL export")],
    public_key: Annotated[
        list[Path], typer.Option(help="PEM file of the gateway's audit public key (repeat across a key rotation)")
    ],
) -> None:
    """Check an export offline: chain, checkpoints and proof. Exit 1 on any break."""
    from audit.signing import SigningKeyError, load_public_key
    from audit.verify import verify_export

    if not file.is_file():
        fail(f"{file}: no such file")
    keys = []
    for path in public_key:
        if not path.is_file():
            fail(f"{path}: no such file")
        try:
            keys.append(load_public_key(path.read_text()))
        except SigningKeyError as exc:
            fail(f"{path}: {exc}")
    with file.open("rb") as handle:
        report = verify_export(handle, keys)
    if report.ok:
        console.print(f"[green]OK[/]: {report.summary()}")
        return
    errors.print(f"[bold red]FAILED[/]: {len(report.problems)} problem(s)")
    for problem in report.problems[:100]:
        where = f"line {problem.line}" + (f", record {problem.seq}" if problem.seq is not None else "")
        errors.print(f"  {where}: {problem.kind}: {problem.message}", highlight=False)
    if len(report.problems) > 100:
        errors.print(f"  ... and {len(report.problems) - 100} more")
    raise typer.Exit(1)


@audit_app.command("prune")
def audit_prune(
    tenant: Annotated[str, typer.Option(help="tenant")],
    before: Annotated[str, typer.Option(help="remove records older than this (ISO 8601, UTC if no zone)")],
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
) -> None:
    """Remove old records under the retention policy, leaving a signed anchor so later exports verify."""
    from audit.events import AuditEvent
    from audit.store.retention import prune
    from enclave.db import transaction

    cutoff = parse_time(before, "--before")
    assert cutoff is not None
    if cutoff > datetime.now(UTC):
        fail("--before is in the future")
    if not yes and not typer.confirm(f"Remove tenant {tenant}'s audit records older than {cutoff.isoformat()}?"):
        raise typer.Exit(1)
    with opened_runtime() as runtime, transaction(runtime.sessions) as session:
        anchor = prune(session, runtime.audit, tenant, cutoff)
        if anchor is not None:
            runtime.audit.append(
                session,
                AuditEvent(
                    tenant=tenant,
                    actor=cli_actor(),
                    action="audit.pruned",
                    target=f"tenant:{tenant}",
                    details={
                        "before": cutoff.isoformat(),
                        "anchor_seq": anchor.seq,
                        "pruned_total": anchor.pruned_count,
                    },
                ),
            )
    if anchor is None:
        console.print("nothing older than that; nothing removed")
    else:
        console.print(f"removed records up to {anchor.seq}; signed anchor left ({anchor.pruned_count} pruned in all)")


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Print a new Ed25519 audit signing key (PEM) for a stack secret or ENCLAVE_AUDIT_SIGNING_KEY.

    Store it only in a secret store, piped so it never lands on a command line, e.g.:
    enclave audit keygen | pulumi config set --secret enclave:auditSigningKey
    """
    from audit.signing import generate_private_key_pem

    print(generate_private_key_pem(), end="")


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the PEM public key that verifies this gateway's exports (give it to your auditors)."""
    from audit.signing import public_key_pem
    from enclave.runtime import load_signing_key

    print(public_key_pem(load_signing_key(load_settings()).public_key()), end="")


def _mount_stack_commands() -> None:
    if importlib.util.find_spec("pulumi") is None:  # the infra extra is not installed (a gateway-only image)
        return
    from infra.cli import stack_app

    app.add_typer(stack_app, name="stack", help="Tenant stacks: create, preview offline, list.")


_mount_stack_commands()


def main() -> None:
    app(prog_name="enclave")


if __name__ == "__main__":
    main()
