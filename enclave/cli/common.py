"""What every command group shares: output (tables that keep every cell whole, `--json`), one-line errors
with the team's exit codes, the operator as audit records name them, and the services for one command.

Exit codes: 0 ok; 1 a failure (not found, refused, unreachable, verification failed); 2 a usage error (an
option's value the command line itself cannot take). Nothing prints a traceback for bad input."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from audit.events import Actor, ActorKind
from enclave.settings import Settings, SettingsError, load_settings
from tenancy.errors import DomainError, ErrorKind

if TYPE_CHECKING:
    from enclave.services import Access, Services

EXIT_FAILURE = 1
EXIT_USAGE = 2

console = Console(soft_wrap=False)
errors = Console(stderr=True)

# Every command group is a Typer app with plain help (rich_markup_mode=None): it wraps at the terminal's width,
# where Rich's help tables cut option names in an 80-column terminal.
TYPER_OPTIONS: dict[str, Any] = {"no_args_is_help": True, "rich_markup_mode": None}

TenantOption = Annotated[str, typer.Option("--tenant", "-t", metavar="TENANT", help="the tenant to act on")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON for scripts instead of a table")]


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """One line on stderr (however long), then exit with `code`."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def cli_actor() -> Actor:
    """The operator at this terminal, as audit records name them."""
    return Actor(ActorKind.OPERATOR, f"cli:{getpass.getuser()}")


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time; without a zone it is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        usage(f"{option} {text!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T12:00:00Z)")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def opened_services() -> Iterator[Services]:
    """The services for one command; what goes wrong inside becomes one line and an exit code: a bad value
    the domain refuses exits 2, any other refusal (not found, conflict, forbidden, unavailable) 1, an
    unwritable audit log or an unreachable database 1."""
    from audit.keys import KeyHistoryError
    from audit.store.log import AuditWriteError
    from enclave.db import CONNECTION_ERRORS, DatabaseUnavailableError, unavailable
    from enclave.runtime import Runtime
    from enclave.services import Services

    try:
        runtime = Runtime.open(settings())
    except (DatabaseUnavailableError, KeyHistoryError) as exc:
        fail(str(exc))
    except OSError as exc:  # ENCLAVE_DATA_DIR (or a file in it) cannot be used
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot use{where} (ENCLAVE_DATA_DIR): {exc.strerror or type(exc).__name__}")
    services = Services.build(runtime)
    try:
        yield services
    except DomainError as exc:  # a refused request: its message says why, as the API's problem details do
        fail(str(exc), EXIT_USAGE if exc.kind is ErrorKind.INVALID else EXIT_FAILURE)
    except AuditWriteError:
        fail("the audit log cannot be written, so nothing was changed; check the database")
    except CONNECTION_ERRORS as exc:
        fail(str(unavailable(runtime.engine, exc)))
    finally:
        services.close()


def operator_access(services: Services, tenant: str) -> Access:
    """The operator at this terminal acting on `tenant` (NotFoundError when the gateway has no such tenant)."""
    from enclave.services import Access

    services.tenants.get(tenant)
    return Access.operator(tenant, cli_actor())


def table(*headers: str) -> Table:
    """A table whose cells are never cut: long values wrap at the terminal's width, and when the output is
    not a terminal (a pipe, a file) it is as wide as its widest row."""
    result = Table(expand=False)
    for header in headers:
        result.add_column(header, overflow="fold")
    return result


def print_table(result: Table) -> None:
    if sys.stdout.isatty():
        console.print(result)
    else:  # piped: no wrapping at an arbitrary width, no colour codes
        Console(width=10_000, no_color=True, highlight=False).print(result)


def print_json(value: Any) -> None:
    """JSON on stdout, one document, for scripts (`--json`)."""
    print(json.dumps(value, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Sequence):
        return list(value)
    return str(value)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""
