"""`enclave scim token create | list | rotate | revoke` and `enclave scim status`: the SCIM tokens a tenant's
directory (Okta, Entra ID) provisions with, and what it has provisioned."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from auth.scim.models import ScimTokenRow
from auth.scim.tokens import IssuedScimToken, token_state
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
    settings,
    table,
    when,
)

scim_app = typer.Typer(help="SCIM provisioning by the tenant's directory (Okta, Entra ID).", **TYPER_OPTIONS)
token_app = typer.Typer(help="SCIM tokens: the directory's credential for /scim/v2.", **TYPER_OPTIONS)
scim_app.add_typer(token_app, name="token")

TokenIdArgument = Annotated[
    str, typer.Argument(metavar="TOKEN_ID", help="the token id (the 12 hex characters after scim_)")
]


def _token_json(token: ScimTokenRow) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "state": token_state(token),
        "created_by": token.created_by,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
        "replaced_by": token.replaced_by,
    }


def _scim_base_url() -> str:
    public_url = settings().public_url
    return f"{public_url.rstrip('/')}/scim/v2" if public_url else "https://<gateway host>/scim/v2"


def _show_issued(issued: IssuedScimToken, tenant: str, as_json: bool) -> None:
    """The secret once: alone on stdout (or in the JSON document), what it is for on stderr."""
    base_url = _scim_base_url()
    if as_json:
        print_json({**_token_json(issued.token), "secret": issued.secret, "scim_base_url": base_url})
        return
    ends = f"expires {issued.token.expires_at:%Y-%m-%d}" if issued.token.expires_at else "lasts until revoked"
    errors.print(f"SCIM token {issued.token.id} for tenant {tenant} ({issued.token.name}), {ends}.")
    errors.print(f"Give your directory the SCIM base URL {base_url} and the token below as its bearer token.")
    errors.print("The token below is shown once; store it now.")
    print(issued.secret)  # stdout alone, so scripts can capture it


@token_app.command("create")
def token_create(
    tenant: TenantOption,
    name: Annotated[
        str, typer.Option(metavar="NAME", help="which directory it is for (e.g. okta, entra)")
    ] = "directory",
    ttl_days: Annotated[
        int | None, typer.Option(metavar="DAYS", min=1, max=3650, help="lifetime in days (default: until revoked)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a SCIM token for the tenant's directory. It is accepted on /scim/v2 only, and nothing else is."""
    with opened_services() as services:
        issued = services.scim.create_token(operator_access(services, tenant), name=name, ttl_days=ttl_days)
    _show_issued(issued, tenant, as_json)


@token_app.command("rotate")
def token_rotate(
    token_id: TokenIdArgument,
    tenant: TenantOption,
    overlap_hours: Annotated[
        int, typer.Option(metavar="HOURS", min=0, max=168, help="how long the old token keeps working (0: ends now)")
    ] = 24,
    as_json: JsonOption = False,
) -> None:
    """Replace a SCIM token: paste the new one into the directory; the old one ends after the overlap."""
    with opened_services() as services:
        issued = services.scim.rotate_token(operator_access(services, tenant), token_id, overlap_hours=overlap_hours)
    _show_issued(issued, tenant, as_json)


@token_app.command("revoke")
def token_revoke(token_id: TokenIdArgument, tenant: TenantOption) -> None:
    """Revoke a SCIM token at once: the directory's next request with it is refused."""
    with opened_services() as services:
        services.scim.revoke_token(operator_access(services, tenant), token_id)
    console.print(f"SCIM token {token_id} revoked")


@token_app.command("list")
def token_list(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List the tenant's SCIM tokens (never their secrets) and when the directory last used each."""
    with opened_services() as services:
        found = services.scim.tokens(operator_access(services, tenant))
    if as_json:
        print_json([_token_json(token) for token in found])
        return
    rows = table("id", "name", "state", "created (UTC)", "expires (UTC)", "last used (UTC)")
    for token in found:
        rows.add_row(
            token.id,
            token.name,
            token_state(token),
            when(token.created_at),
            when(token.expires_at) or "never",
            when(token.last_used_at),
        )
    print_table(rows)


@scim_app.command("status")
def status(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """What the directory has provisioned: users (and how many are Enclave users), groups, its last change."""
    with opened_services() as services:
        found = services.scim.status(operator_access(services, tenant))
    summary = {
        "users": found.users,
        "enclave_users": found.enclave_users,
        "groups": found.groups,
        "last_change": found.last_change,
        "active_tokens": sum(token_state(token) == "active" for token in found.tokens),
        "scim_base_url": _scim_base_url(),
    }
    if as_json:
        print_json(summary)
        return
    rows = table("what", "value")
    for key, value in summary.items():
        rows.add_row(key.replace("_", " "), when(found.last_change) if key == "last_change" else str(value))
    print_table(rows)
