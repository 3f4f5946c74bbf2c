"""Every command's help reads in an 80-column terminal: no option name cut, no line past the edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from enclave.cli.main import app

WIDTH = 80


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command below `command` (Typer's groups are click-like: `.commands`, `.params`)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


ALL = list(_commands(typer.main.get_command(app)))


def test_the_walk_finds_the_command_tree() -> None:
    paths = {" ".join(path) for path, _ in ALL}
    assert {"serve", "apikey create", "audit export", "stack init", "stack preview"} <= paths


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) or "enclave" for p, _ in ALL])
def test_help_fits_80_columns_with_every_option_whole(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH)})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= WIDTH, text
    for parameter in command.params:
        for option in parameter.opts + parameter.secondary_opts:
            if option.startswith("-"):
                assert option in text, f"{option} is not shown whole in `{' '.join(path)} --help`"


def test_tables_wrap_long_values_instead_of_cutting_them() -> None:
    from rich.console import Console

    from enclave.cli.common import table as cli_table

    arn = "arn:aws:iam::123456789012:role/enclave/acme/enclave-access"
    table = cli_table("grant", "role", "status")
    table.add_row("default", arn, "active")
    console = Console(width=40, record=True)
    console.print(table)
    text = console.export_text()
    assert "…" not in text
    role_column = "".join(line.split("│")[2].strip() for line in text.splitlines() if line.count("│") == 4)
    assert arn in role_column


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) or "enclave" for p, _ in ALL])
def test_help_shows_real_placeholders(path: tuple[str, ...], command: Any) -> None:
    """An option's value is shown as what it is (`--tenant TENANT`, `--role <viewer|member|...>`), never as a
    Python type (`<list[str]>`) or click's generic TEXT / INTEGER."""
    text = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "120"}).output
    assert "<list[" not in text and "range>" not in text, text
    for parameter in command.params:
        if parameter.param_type_name == "option" and not parameter.is_flag and parameter.opts[0] != "--help":
            shown = next(line for line in text.splitlines() if parameter.opts[0] in line)
            assert not any(generic in shown.split() for generic in ("TEXT", "INTEGER", "FLOAT", "PATH")), shown
