"""The `enclave` command line: run the gateway, manage tenants, API keys, users, single sign-on, SCIM tokens and
storage grants, export and verify the audit log, and (with the infra extra) create and preview tenant stacks.

Each command group is a module of this package that never imports this one; this module only mounts them."""

from __future__ import annotations

import importlib.util

import typer

from enclave.cli.apikeys import apikey_app
from enclave.cli.audit import audit_app
from enclave.cli.common import TYPER_OPTIONS
from enclave.cli.gateway import db_app, openapi, serve
from enclave.cli.scim import scim_app
from enclave.cli.secrets import secrets_app
from enclave.cli.sso import sso_app
from enclave.cli.storage import storage_app
from enclave.cli.tenants import tenant_app
from enclave.cli.users import users_app

app = typer.Typer(help=__doc__, pretty_exceptions_show_locals=False, **TYPER_OPTIONS)
app.command()(serve)
app.command()(openapi)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(storage_app, name="storage")
app.add_typer(sso_app, name="sso")
app.add_typer(users_app, name="users")
app.add_typer(scim_app, name="scim")
app.add_typer(secrets_app, name="secrets")


def _mount_stack_commands() -> None:
    if importlib.util.find_spec("pulumi") is None:  # the infra extra is not installed (a gateway-only image)
        return
    from infra.cli import stack_app

    app.add_typer(stack_app, name="stack", help="Tenant stacks: create, preview offline, list.")


_mount_stack_commands()


def _mount_byob_commands() -> None:
    if importlib.util.find_spec("cdktf") is None:  # the byob extra is not installed
        return
    from infra.byob.cli import byob_app

    app.add_typer(byob_app, name="byob", help="Bring-your-own-bucket kits: Terraform for customer IT.")


_mount_byob_commands()


def main() -> None:
    app(prog_name="enclave")
