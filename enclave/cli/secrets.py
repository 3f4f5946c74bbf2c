"""`enclave secrets keygen | check | reseal`: the key that seals stored client secrets and refresh tokens
(ENCLAVE_SECRETS_KEY), which keys sealed what, and moving everything to a new key (docs/gateway.md, "Stored
secrets")."""

from __future__ import annotations

import typer

from enclave.cli.common import (
    EXIT_FAILURE,
    TYPER_OPTIONS,
    JsonOption,
    cli_actor,
    console,
    errors,
    opened_services,
    print_json,
    print_table,
    table,
)

secrets_app = typer.Typer(help="The key that seals stored client secrets and refresh tokens.", **TYPER_OPTIONS)


@secrets_app.command("keygen")
def secrets_keygen() -> None:
    """Print a new secrets key (32 random bytes, base64) for a stack secret or ENCLAVE_SECRETS_KEY.

    Store it only in a secret store, e.g.:
    enclave secrets keygen | pulumi config set --secret enclave:secretsKey
    """
    from auth.sealing import generate_secrets_key

    print(generate_secrets_key())


@secrets_app.command("check")
def secrets_check(as_json: JsonOption = False) -> None:
    """How many stored values each key sealed, and how many no key this gateway has opens (exit 1 then: they
    read as absent until ENCLAVE_SECRETS_PREVIOUS_KEYS gives their key back)."""
    with opened_services() as services:
        key_id, columns = services.secrets.key_id, services.secrets.census()
    unreadable = sum(column.unreadable for column in columns)
    if as_json:
        print_json(
            {
                "current_key": key_id,
                "columns": [
                    {"column": c.column, "by_key": c.by_key, "unknown_keys": c.unknown_keys, "unreadable": c.unreadable}
                    for c in columns
                ],
                "unreadable": unreadable,
            }
        )
    else:
        result = table("column", "key", "values", "state")
        for column in columns:
            if not column.by_key:
                result.add_row(column.column, "", "0", "")
            for key, count in column.by_key.items():
                state = "unreadable" if key in column.unknown_keys else "current" if key == key_id else "previous"
                result.add_row(column.column, key, str(count), state)
        print_table(result)
        console.print(f"new values are sealed with key {key_id}; {unreadable} stored value(s) no key opens")
    if unreadable:
        raise typer.Exit(EXIT_FAILURE)


@secrets_app.command("reseal")
def secrets_reseal() -> None:
    """Seal every stored value again under ENCLAVE_SECRETS_KEY (audited per tenant).

    To rotate: set ENCLAVE_SECRETS_KEY to a new key and ENCLAVE_SECRETS_PREVIOUS_KEYS to the old one on every
    gateway, run this, check that `enclave secrets check` shows only the current key, then drop the old key.
    """
    with opened_services() as services:
        report = services.secrets.reseal(cli_actor())
    for (tenant, column), count in sorted(report.resealed.items()):
        console.print(f"{tenant}: {count} value(s) of {column} sealed again")
    console.print(f"every readable value is sealed with key {report.key_id}")
    if report.unreadable:
        lost = ", ".join(f"{count} of {column}" for column, count in sorted(report.unreadable.items()))
        errors.print(f"left as they are (no key this gateway has opens them): {lost}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE)
