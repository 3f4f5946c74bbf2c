"""How the command line prints tables: every cell whole, wrapped to the terminal's width (an id, a prefix or
an ARN cut with "…" in an 80-column terminal is no use to an operator)."""

from __future__ import annotations

from rich.table import Table


def cli_table(*headers: str) -> Table:
    table = Table()
    for header in headers:
        table.add_column(header, overflow="fold")
    return table
