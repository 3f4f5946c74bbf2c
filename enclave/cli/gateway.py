"""`enclave serve`, `enclave openapi` and `enclave db upgrade`: running the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from enclave.cli.common import TYPER_OPTIONS, console, fail, settings

db_app = typer.Typer(help="Database schema.", **TYPER_OPTIONS)


def serve(
    host: Annotated[str | None, typer.Option(metavar="ADDRESS", help="bind address (default from settings)")] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", min=1, max=65535, help="port (default from settings)")
    ] = None,
) -> None:
    """Run the gateway (migrates the database first)."""
    import uvicorn

    from audit.keys import KeyHistoryError
    from enclave.app import create_app
    from enclave.db import DatabaseUnavailableError
    from enclave.logging import configure_logging
    from enclave.runtime import Runtime
    from enclave.services import Services

    chosen = settings()
    configure_logging(chosen.log_level)
    try:
        runtime = Runtime.open(chosen)
    except (DatabaseUnavailableError, KeyHistoryError) as exc:
        fail(str(exc))
    services = Services.build(runtime)
    proxies = [str(network) for network in chosen.trusted_proxies]
    try:
        uvicorn.run(
            create_app(services),
            host=host or chosen.host,
            port=port or chosen.port,
            log_config=None,
            ssl_certfile=chosen.tls_cert_file,
            ssl_keyfile=chosen.tls_key_file,
            # X-Forwarded-For / -Proto only from the configured proxies (none by default): anyone else could
            # pick the address audit records and per-address limits see. uvicorn trusts 127.0.0.1 otherwise.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or [],
            server_header=False,
        )
    finally:
        services.close()


def openapi(
    out: Annotated[Path, typer.Option(metavar="FILE", help="where to write the OpenAPI document")] = Path(
        "docs/openapi.json"
    ),
) -> None:
    """Write the gateway's OpenAPI document."""
    from enclave.openapi import write_openapi

    if not out.parent.is_dir():
        fail(f"--out {out}: the folder {out.parent} does not exist")
    write_openapi(out)
    console.print(f"wrote {out}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from enclave.db import CONNECTION_ERRORS, unavailable, upgrade
    from enclave.runtime import open_engine

    engine = open_engine(settings())
    try:
        upgrade(engine)
    except CONNECTION_ERRORS as exc:
        fail(str(unavailable(engine, exc)))
    finally:
        engine.dispose()
    console.print("database is at the latest schema")
