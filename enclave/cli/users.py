"""`enclave users add | list | role | offboard`: users of a tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from auth.roles import Role
from enclave.cli.common import (
    TYPER_OPTIONS,
    JsonOption,
    TenantOption,
    console,
    opened_services,
    operator_access,
    print_json,
    print_table,
    table,
    when,
)

users_app = typer.Typer(help="Users of a tenant: invite, list, change a role, offboard.", **TYPER_OPTIONS)
EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="the user's email address")]


@users_app.command("add")
def users_add(
    email: EmailArgument,
    tenant: TenantOption,
    role: Annotated[Role, typer.Option(help="the user's role")] = Role.VIEWER,
) -> None:
    """Invite a user (for invite-only tenants): they sign in with any of the tenant's providers."""
    with opened_services() as services:
        user = services.users.invite(operator_access(services, tenant), email=email, role=role)
    console.print(f"invited {user.email} to {tenant} as {role}")


@users_app.command("list")
def users_list(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's users."""
    with opened_services() as services:
        users = services.users.list(operator_access(services, tenant))
    if as_json:
        print_json(
            [
                {
                    "id": u.id,
                    "email": u.email,
                    "display_name": u.display_name,
                    "role": u.role,
                    "created_at": u.created_at,
                    "disabled_at": u.disabled_at,
                }
                for u in users
            ]
        )
        return
    rows = table("email", "role", "created (UTC)", "disabled (UTC)")
    for user in users:
        rows.add_row(user.email, user.role, when(user.created_at), when(user.disabled_at) or "-")
    print_table(rows)


@users_app.command("role")
def users_role(
    email: EmailArgument, tenant: TenantOption, role: Annotated[Role, typer.Option(help="the new role")]
) -> None:
    """Change a user's role (audited); their live sessions carry it at once."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        user = services.users.set_role(access, services.users.by_email(access, email).id, role)
    console.print(f"{user.email} of {tenant} is now {user.role}")


@users_app.command("offboard")
def users_offboard(
    email: EmailArgument,
    tenant: TenantOption,
    reason: Annotated[
        str | None, typer.Option(metavar="REASON", help="why (recorded on the audit record)", show_default=False)
    ] = None,
) -> None:
    """Disable a user, end all their sessions and API keys and, for a Keycloak-backed tenant, disable them in
    Keycloak and end their Keycloak sessions."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        report = services.users.offboard(access, services.users.by_email(access, email).id, reason)
    keycloak = report.idp_accounts_disabled
    console.print(
        f"offboarded {report.email}: disabled, {report.sessions_ended} session(s) ended, "
        f"{report.api_keys_revoked} API key(s) revoked"
        + (f", {keycloak} Keycloak account(s) disabled and logged out" if keycloak is not None else ""),
        soft_wrap=True,
    )


ProviderOption = Annotated[str, typer.Option(metavar="PROVIDER", help="the provider's name in the tenant")]
SubjectOption = Annotated[
    str, typer.Option(metavar="SUBJECT", help="the account's subject at the provider (the `sub` its tokens carry)")
]


@users_app.command("link")
def users_link(email: EmailArgument, tenant: TenantOption, provider: ProviderOption, subject: SubjectOption) -> None:
    """Let a provider account sign in as this user (after checking it is the same person; audited)."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        linked = services.users.link(
            access, services.users.by_email(access, email).id, provider=provider, subject=subject
        )
    console.print(f"{linked.provider} account {linked.subject!r} now signs in as {email}")


@users_app.command("unlink")
def users_unlink(email: EmailArgument, tenant: TenantOption, provider: ProviderOption, subject: SubjectOption) -> None:
    """Stop a provider account signing in as this user; the sessions opened with it end (audited)."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        user_id = services.users.by_email(access, email).id
        ended = services.users.unlink(access, user_id, provider=provider, subject=subject)
    console.print(f"{provider} account {subject!r} no longer signs in as {email}; {ended} session(s) ended")


@users_app.command("identities")
def users_identities(email: EmailArgument, tenant: TenantOption, as_json: JsonOption = False) -> None:
    """The provider accounts that sign in as this user."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        found = services.users.identities(access, services.users.by_email(access, email).id)
    if as_json:
        print_json([identity.__dict__ for identity in found])
        return
    rows = table("provider", "kind", "subject", "linked (UTC)", "last sign-in (UTC)")
    for identity in found:
        rows.add_row(
            identity.provider, identity.kind, identity.subject, when(identity.linked_at), when(identity.last_login_at)
        )
    print_table(rows)
