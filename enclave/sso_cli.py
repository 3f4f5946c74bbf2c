"""`enclave sso add | list | remove | policy`, `enclave sso keycloak provision` and `enclave users add | list |
offboard`: single sign-on and users from the command line (wired to a runtime by enclave/sso_runtime.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from auth.roles import Role
from auth.sso.config import ProviderKind
from enclave.cli_output import cli_table
from enclave.sso_runtime import KEYCLOAK_PROVIDER_NAME, keycloak_offboarding, session_store

if TYPE_CHECKING:
    pass

sso_app = typer.Typer(no_args_is_help=True, help="Single sign-on: the tenant's identity providers and policy.")
keycloak_app = typer.Typer(no_args_is_help=True, help="Keycloak realms Enclave provisions for a tenant.")
users_app = typer.Typer(no_args_is_help=True, help="Users of a tenant: invite, list, offboard.")
sso_app.add_typer(keycloak_app, name="keycloak")


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def _fail(message: str, code: int = 2) -> NoReturn:
    from enclave.cli import fail

    fail(message, code)


# -- wiring shared with the HTTP API ---------------------------------------------------------------------
# -- sso -------------------------------------------------------------------------------------------------
@sso_app.command("add")
def sso_add(
    name: Annotated[str, typer.Argument(help="short name shown on the sign-in page, e.g. google or corp")],
    tenant: Annotated[str, typer.Option(help="tenant")],
    kind: Annotated[ProviderKind, typer.Option(help="provider kind")],
    client_id: Annotated[str, typer.Option(help="the gateway's client id at the provider")],
    client_secret_env: Annotated[
        str | None, typer.Option(help="environment variable holding the client secret (never pass it as an argument)")
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="oidc / keycloak: the issuer URL")] = None,
    hosted_domain: Annotated[str | None, typer.Option(help="google: required Workspace domain")] = None,
    directory: Annotated[str | None, typer.Option(help="microsoft: tenant id, organizations or common")] = None,
    allowed_tenant_id: Annotated[list[str] | None, typer.Option(help="microsoft: allowed Entra tenant id")] = None,
    required_org: Annotated[str | None, typer.Option(help="github: required organisation")] = None,
    required_team: Annotated[str | None, typer.Option(help="github: required team slug")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="extra scope to request (repeatable)")] = None,
    authority: Annotated[str | None, typer.Option(help="microsoft: authority base URL (sovereign clouds)")] = None,
    api_url: Annotated[str | None, typer.Option(help="github: API base (GitHub Enterprise Server)")] = None,
    web_url: Annotated[str | None, typer.Option(help="github: web base (GitHub Enterprise Server)")] = None,
) -> None:
    """Add an identity provider to a tenant's sign-in options."""
    from pydantic import SecretStr

    from auth.sso.config import ProviderConfig
    from auth.sso.registry import add_provider
    from enclave.cli import cli_actor, console, opened_runtime
    from enclave.db import transaction

    secret = None
    if client_secret_env is not None:
        secret = os.environ.get(client_secret_env)
        if not secret:
            _fail(f"environment variable {client_secret_env} is not set")
    options = {
        "hosted_domain": hosted_domain,
        "directory": directory,
        "allowed_tenant_ids": tuple(allowed_tenant_id or ()),
        "required_org": required_org,
        "required_team": required_team,
        "scopes": tuple(scope or ()),
        "authority": authority,
        "api_url": api_url,
        "web_url": web_url,
    }
    try:
        config = ProviderConfig(
            name=name,
            kind=kind,
            client_id=client_id,
            client_secret=SecretStr(secret) if secret else None,
            issuer=issuer,
            options={k: v for k, v in options.items() if v not in (None, ())},
        )
    except ValidationError as exc:
        _fail(_validation_message(exc))
    with opened_runtime() as runtime, transaction(runtime.sessions) as session:
        allow_insecure = runtime.settings.sso_allow_insecure_loopback_issuers
        add_provider(session, runtime.audit, cli_actor(), tenant, config, allow_insecure_loopback=allow_insecure)
    console.print(f"added {kind} provider {name!r} to {tenant}")


@sso_app.command("list")
def sso_list(tenant: Annotated[str, typer.Option(help="tenant")]) -> None:
    """List a tenant's identity providers (never their secrets) and its sign-in policy."""
    from auth.sso.registry import get_policy, list_providers
    from enclave.cli import console, opened_runtime

    with opened_runtime() as runtime, runtime.sessions() as session:
        rows = list_providers(session, tenant)
        policy = get_policy(session, tenant)
    table = cli_table("name", "kind", "issuer", "client id", "options")
    for row in rows:
        table.add_row(
            row.name, row.kind, row.issuer or "-", row.client_id, ", ".join(f"{k}={v}" for k, v in row.options.items())
        )
    console.print(table)
    domains = ", ".join(policy.allowed_domains) or "any"
    console.print(
        f"policy: {'JIT' if policy.jit else 'invite-only'}; domains: {domains}; "
        f"idle {policy.idle_timeout_seconds // 60} min; absolute {policy.absolute_timeout_seconds // 3600} h"
    )


@sso_app.command("remove")
def sso_remove(
    name: Annotated[str, typer.Argument(help="provider name")], tenant: Annotated[str, typer.Option(help="tenant")]
) -> None:
    """Remove an identity provider (its users keep their accounts; they sign in another way)."""
    from auth.sso.registry import remove_provider
    from enclave.cli import cli_actor, console, opened_runtime
    from enclave.db import transaction

    with opened_runtime() as runtime, transaction(runtime.sessions) as session:
        remove_provider(session, runtime.audit, cli_actor(), tenant, name)
    console.print(f"removed provider {name!r} from {tenant}")


@sso_app.command("policy")
def sso_policy(
    tenant: Annotated[str, typer.Option(help="tenant")],
    domain: Annotated[list[str] | None, typer.Option(help="allowed email domain (repeatable; none = any)")] = None,
    jit: Annotated[bool, typer.Option("--jit/--invite-only", help="create users at first sign-in")] = False,
    role_claim: Annotated[str | None, typer.Option(help="claim whose values map to roles, e.g. groups")] = None,
    map_role: Annotated[list[str] | None, typer.Option("--map", help="VALUE=ROLE (repeatable)")] = None,
    idle_minutes: Annotated[int, typer.Option(help="idle session timeout")] = 30,
    absolute_hours: Annotated[int, typer.Option(help="absolute session timeout")] = 12,
) -> None:
    """Set the tenant's sign-in policy (replaces the previous one)."""

    from auth.roles import parse_role
    from auth.sso.config import SignInPolicy
    from auth.sso.registry import set_policy
    from enclave.cli import cli_actor, console, errors, opened_runtime
    from enclave.db import transaction

    mapping: dict[str, Role] = {}
    for item in map_role or []:
        value, sep, role = item.partition("=")
        if not sep or not value:
            _fail(f"--map {item!r} must be VALUE=ROLE")
        try:
            mapping[value] = parse_role(role)
        except ValueError as exc:
            _fail(str(exc))
    try:
        policy = SignInPolicy(
            allowed_domains=tuple(d.lower() for d in domain or ()),
            jit=jit,
            role_claim=role_claim,
            role_map=mapping,
            idle_timeout_seconds=idle_minutes * 60,
            absolute_timeout_seconds=absolute_hours * 3600,
        )
    except ValidationError as exc:
        _fail(_validation_message(exc))
    with opened_runtime() as runtime, transaction(runtime.sessions) as session:
        warnings = set_policy(session, runtime.audit, cli_actor(), tenant, policy)
    console.print(f"sign-in policy of {tenant} updated")
    for warning in warnings:
        errors.print(f"warning: {warning}", soft_wrap=True)


@keycloak_app.command("provision")
def keycloak_provision(
    tenant: Annotated[str, typer.Argument(help="tenant")],
    spec: Annotated[Path, typer.Option(help="realm spec (.toml or .json); secrets by *_env variable names")],
) -> None:
    """Create or update the tenant's Keycloak realm, gateway client, brokered providers and LDAP federation,
    then register the realm as the tenant's `keycloak` sign-in provider. Safe to run again."""
    from pydantic import SecretStr

    from audit.events import AuditEvent
    from auth.keycloak import AdminConnection, KeycloakAdminError, SpecError, admin_client, load_spec, provision
    from auth.sso.config import ProviderConfig
    from auth.sso.registry import add_provider, get_provider, remove_provider
    from enclave.cli import cli_actor, console, load_settings, opened_runtime
    from enclave.db import transaction

    settings = load_settings()
    if not (settings.keycloak_url and settings.keycloak_admin_client_id and settings.keycloak_admin_client_secret):
        _fail("set ENCLAVE_KEYCLOAK_URL, ENCLAVE_KEYCLOAK_ADMIN_CLIENT_ID and ENCLAVE_KEYCLOAK_ADMIN_CLIENT_SECRET")
    try:
        realm_spec = load_spec(spec)
    except SpecError as exc:
        _fail(str(exc))
    connection = AdminConnection(
        settings.keycloak_url,
        settings.keycloak_admin_client_id,
        settings.keycloak_admin_client_secret.get_secret_value(),
    )
    with opened_runtime() as runtime:
        try:
            report = provision(admin_client(connection), realm_spec)
        except (KeycloakAdminError, SpecError) as exc:
            _fail(str(exc), 1)
        config = ProviderConfig(
            name=KEYCLOAK_PROVIDER_NAME,
            kind=ProviderKind.KEYCLOAK,
            client_id=realm_spec.client.client_id,
            client_secret=SecretStr(report.client_secret) if report.client_secret else None,
            issuer=f"{settings.keycloak_url.rstrip('/')}/realms/{realm_spec.realm}",
        )
        with transaction(runtime.sessions) as session:
            if get_provider(session, tenant, KEYCLOAK_PROVIDER_NAME) is not None:
                remove_provider(session, runtime.audit, cli_actor(), tenant, KEYCLOAK_PROVIDER_NAME)
                session.flush()
            allow_insecure = runtime.settings.sso_allow_insecure_loopback_issuers
            add_provider(session, runtime.audit, cli_actor(), tenant, config, allow_insecure_loopback=allow_insecure)
            runtime.audit.append(
                session,
                AuditEvent(
                    tenant=tenant,
                    actor=cli_actor(),
                    action="sso.keycloak.provisioned",
                    target=f"keycloak-realm:{realm_spec.realm}",
                    details={"created": list(report.created), "updated": list(report.updated)},
                ),
            )
    for item in report.created:
        console.print(f"created {item}")
    for item in report.updated:
        console.print(f"updated {item}")
    console.print(f"tenant {tenant} signs in through Keycloak realm {realm_spec.realm}")


# -- users -----------------------------------------------------------------------------------------------
@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="the user's email address (as the provider vouches for it)")],
    tenant: Annotated[str, typer.Option(help="tenant")],
    role: Annotated[Role, typer.Option(help="the user's role")] = Role.VIEWER,
) -> None:
    """Invite a user (for invite-only tenants): they sign in with any of the tenant's providers."""
    from auth.users import create_user
    from enclave.cli import cli_actor, console, opened_runtime
    from enclave.db import transaction

    with opened_runtime() as runtime, transaction(runtime.sessions) as session:
        user = create_user(session, runtime.audit, cli_actor(), tenant_id=tenant, email=email, role=role)
    console.print(f"invited {user.email} to {tenant} as {role}")


@users_app.command("list")
def users_list(tenant: Annotated[str, typer.Option(help="tenant")]) -> None:
    """List a tenant's users."""
    from auth.users import list_users
    from enclave.cli import console, opened_runtime

    with opened_runtime() as runtime, runtime.sessions() as session:
        users = list_users(session, tenant)
    table = cli_table("email", "role", "created", "disabled")
    for user in users:
        disabled = user.disabled_at.strftime("%Y-%m-%d %H:%M UTC") if user.disabled_at else "-"
        table.add_row(user.email, user.role, user.created_at.strftime("%Y-%m-%d %H:%M UTC"), disabled)
    console.print(table)


@users_app.command("offboard")
def users_offboard(
    email: Annotated[str, typer.Argument(help="the user's email address")],
    tenant: Annotated[str, typer.Option(help="tenant")],
) -> None:
    """Disable a user, end all their sessions and API keys and, for a Keycloak-backed tenant, disable them in
    Keycloak and end their Keycloak sessions."""
    from auth.keycloak import KeycloakAdminError
    from auth.users import UserError
    from auth.users_offboarding import offboard_user
    from enclave.cli import cli_actor, console, opened_runtime

    with opened_runtime() as runtime:
        try:
            idp = keycloak_offboarding(runtime, tenant)
        except ValueError as exc:
            _fail(str(exc))
        try:
            report = offboard_user(
                runtime.sessions,
                runtime.audit,
                cli_actor(),
                session_store(runtime),
                tenant_id=tenant,
                email=email,
                idp=idp,
            )
        except UserError as exc:
            _fail(str(exc))
        except KeycloakAdminError as exc:
            _fail(f"Enclave access is removed, but {exc}; run the command again to retry the Keycloak step", 1)
    console.print(
        f"offboarded {report.email}: disabled, {report.sessions_ended} session(s) ended, "
        f"{report.api_keys_revoked} API key(s) revoked"
        + (f", {report.idp_accounts_disabled} Keycloak account(s) disabled and logged out" if idp else ""),
        soft_wrap=True,
    )
