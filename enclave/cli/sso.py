"""`enclave sso add | update | list | remove | policy` and `enclave sso keycloak provision`: the tenant's
identity providers and sign-in policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.markup import escape

from auth.roles import Role, parse_role
from auth.sso.config import ProviderConfig, ProviderKind, SignInPolicy
from enclave.cli.common import (
    TYPER_OPTIONS,
    JsonOption,
    TenantOption,
    console,
    errors,
    fail,
    opened_services,
    operator_access,
    print_json,
    print_table,
    table,
    usage,
)

sso_app = typer.Typer(help="Single sign-on: the tenant's identity providers and policy.", **TYPER_OPTIONS)
keycloak_app = typer.Typer(help="Keycloak realms Enclave provisions for a tenant.", **TYPER_OPTIONS)
sso_app.add_typer(keycloak_app, name="keycloak")

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="short name shown on the sign-in page, e.g. google or corp")
]


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def _provider_config(
    name: str,
    kind: ProviderKind,
    client_id: str,
    client_secret_env: str | None,
    issuer: str | None,
    options: dict[str, object],
) -> ProviderConfig:
    secret = None
    if client_secret_env is not None:
        secret = os.environ.get(client_secret_env)
        if not secret:
            usage(f"environment variable {client_secret_env} (from --client-secret-env) is not set")
    try:
        return ProviderConfig(
            name=name,
            kind=kind,
            client_id=client_id,
            client_secret=SecretStr(secret) if secret else None,
            issuer=issuer,
            options={k: v for k, v in options.items() if v not in (None, ())},
        )
    except ValidationError as exc:
        usage(_validation_message(exc))


KindOption = Annotated[ProviderKind, typer.Option(help="provider kind")]
ClientIdOption = Annotated[str, typer.Option(metavar="ID", help="the gateway's client id at the provider")]
SecretEnvOption = Annotated[
    str | None,
    typer.Option(metavar="VAR", help="environment variable holding the client secret (never the secret itself)"),
]
IssuerOption = Annotated[str | None, typer.Option(metavar="URL", help="oidc / keycloak: the issuer URL")]
HostedDomainOption = Annotated[str | None, typer.Option(metavar="DOMAIN", help="google: required Workspace domain")]
DirectoryOption = Annotated[
    str | None, typer.Option(metavar="TENANT_ID", help="microsoft: tenant id, organizations or common")
]
AllowedTenantOption = Annotated[
    list[str] | None, typer.Option(metavar="TENANT_ID", help="microsoft: allowed Entra tenant id (repeat)")
]
OrgOption = Annotated[str | None, typer.Option(metavar="ORG", help="github: required organisation")]
TeamOption = Annotated[str | None, typer.Option(metavar="TEAM", help="github: required team slug")]
ScopeOption = Annotated[
    list[str] | None, typer.Option(metavar="SCOPE", help="extra scope to request, e.g. groups (repeat)")
]
AuthorityOption = Annotated[
    str | None, typer.Option(metavar="URL", help="microsoft: authority base URL (sovereign clouds)")
]
ApiUrlOption = Annotated[str | None, typer.Option(metavar="URL", help="github: API base (GitHub Enterprise Server)")]
WebUrlOption = Annotated[str | None, typer.Option(metavar="URL", help="github: web base (GitHub Enterprise Server)")]


def _options(
    hosted_domain: str | None,
    directory: str | None,
    allowed_tenant_id: list[str] | None,
    required_org: str | None,
    required_team: str | None,
    scope: list[str] | None,
    authority: str | None,
    api_url: str | None,
    web_url: str | None,
) -> dict[str, object]:
    return {
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


@sso_app.command("add")
def sso_add(
    name: NameArgument,
    tenant: TenantOption,
    kind: KindOption,
    client_id: ClientIdOption,
    client_secret_env: SecretEnvOption = None,
    issuer: IssuerOption = None,
    hosted_domain: HostedDomainOption = None,
    directory: DirectoryOption = None,
    allowed_tenant_id: AllowedTenantOption = None,
    required_org: OrgOption = None,
    required_team: TeamOption = None,
    scope: ScopeOption = None,
    authority: AuthorityOption = None,
    api_url: ApiUrlOption = None,
    web_url: WebUrlOption = None,
) -> None:
    """Add an identity provider to a tenant's sign-in options."""
    options = _options(
        hosted_domain, directory, allowed_tenant_id, required_org, required_team, scope, authority, api_url, web_url
    )
    config = _provider_config(name, kind, client_id, client_secret_env, issuer, options)
    with opened_services() as services:
        services.sso.add_provider(operator_access(services, tenant), config)
    console.print(f"added {kind} provider {name!r} to {tenant}")


@sso_app.command("update")
def sso_update(
    name: NameArgument,
    tenant: TenantOption,
    kind: KindOption,
    client_id: ClientIdOption,
    client_secret_env: SecretEnvOption = None,
    issuer: IssuerOption = None,
    hosted_domain: HostedDomainOption = None,
    directory: DirectoryOption = None,
    allowed_tenant_id: AllowedTenantOption = None,
    required_org: OrgOption = None,
    required_team: TeamOption = None,
    scope: ScopeOption = None,
    authority: AuthorityOption = None,
    api_url: ApiUrlOption = None,
    web_url: WebUrlOption = None,
    rename: Annotated[str | None, typer.Option(metavar="NEW_NAME", help="give the provider a new name")] = None,
) -> None:
    """Edit a provider in place with a whole new configuration (users keep their links; without
    --client-secret-env the stored secret is kept)."""
    options = _options(
        hosted_domain, directory, allowed_tenant_id, required_org, required_team, scope, authority, api_url, web_url
    )
    config = _provider_config(rename or name, kind, client_id, client_secret_env, issuer, options)
    with opened_services() as services:
        services.sso.replace_provider(operator_access(services, tenant), name, config)
    console.print(f"updated {kind} provider {name!r} of {tenant}")


@sso_app.command("list")
def sso_list(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's identity providers (never their secrets) and its sign-in policy."""
    with opened_services() as services:
        access = operator_access(services, tenant)
        rows = services.sso.providers(access)
        policy = services.sso.policy(access)
        warnings = services.sso.policy_warnings(access)
    if as_json:
        print_json(
            {
                "providers": [
                    {
                        "name": row.name,
                        "kind": row.kind,
                        "issuer": row.issuer,
                        "client_id": row.client_id,
                        "has_client_secret": row.client_secret is not None,
                        "options": row.options,
                    }
                    for row in rows
                ],
                "policy": policy.model_dump(mode="json"),
                "warnings": warnings,
            }
        )
        return
    providers = table("name", "kind", "issuer", "client id", "options")
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row.options.items())
        providers.add_row(row.name, row.kind, row.issuer or "-", row.client_id, options)
    if rows:
        print_table(providers)
    else:
        console.print(f"tenant {tenant} has no identity provider yet: add one with `enclave sso add`")
    domains = ", ".join(policy.allowed_domains) or "any"
    mapping = f"; roles from claim {policy.role_claim!r}" if policy.role_claim else ""
    console.print(
        f"policy: {'JIT' if policy.jit else 'invite-only'}; domains: {domains}; "
        f"idle {policy.idle_timeout_seconds // 60} min; absolute {policy.absolute_timeout_seconds // 3600} h; "
        f"re-checked with the provider every {policy.revalidate_seconds // 60} min{mapping}",
        soft_wrap=True,
    )
    for warning in warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@sso_app.command("remove")
def sso_remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="provider name")], tenant: TenantOption
) -> None:
    """Remove an identity provider (its users keep their accounts; they sign in another way)."""
    with opened_services() as services:
        services.sso.remove_provider(operator_access(services, tenant), name)
    console.print(f"removed provider {name!r} from {tenant}")


@sso_app.command("policy")
def sso_policy(
    tenant: TenantOption,
    domain: Annotated[
        list[str] | None, typer.Option(metavar="DOMAIN", help="allowed email domain (repeat; none = any)")
    ] = None,
    jit: Annotated[bool, typer.Option("--jit/--invite-only", help="create users at first sign-in")] = False,
    role_claim: Annotated[
        str | None, typer.Option(metavar="CLAIM", help="claim whose values map to roles, e.g. groups")
    ] = None,
    map_role: Annotated[
        list[str] | None, typer.Option("--map", metavar="VALUE=ROLE", help="claim value to role (repeat)")
    ] = None,
    idle_minutes: Annotated[int, typer.Option(metavar="MINUTES", help="idle session timeout")] = 30,
    absolute_hours: Annotated[int, typer.Option(metavar="HOURS", help="absolute session timeout")] = 12,
    revalidate_minutes: Annotated[
        int, typer.Option(metavar="MINUTES", help="re-check the user with the identity provider this often")
    ] = 60,
) -> None:
    """Set the tenant's sign-in policy (replaces the previous one)."""
    mapping: dict[str, Role] = {}
    for item in map_role or []:
        value, sep, role = item.partition("=")
        if not sep or not value:
            usage(f"--map {item!r} must be VALUE=ROLE")
        try:
            mapping[value] = parse_role(role)
        except ValueError as exc:
            usage(str(exc))
    try:
        policy = SignInPolicy(
            allowed_domains=tuple(d.lower() for d in domain or ()),
            jit=jit,
            role_claim=role_claim,
            role_map=mapping,
            idle_timeout_seconds=idle_minutes * 60,
            absolute_timeout_seconds=absolute_hours * 3600,
            revalidate_seconds=revalidate_minutes * 60,
        )
    except ValidationError as exc:
        usage(_validation_message(exc))
    with opened_services() as services:
        warnings = services.sso.set_policy(operator_access(services, tenant), policy)
    console.print(f"sign-in policy of {tenant} updated")
    for warning in warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@keycloak_app.command("provision")
def keycloak_provision(
    tenant: TenantOption,
    spec: Annotated[
        Path, typer.Option(metavar="FILE", help="realm spec (.toml or .json); secrets by *_env variable names")
    ],
) -> None:
    """Create or update the tenant's Keycloak realm, gateway client, brokered providers and LDAP federation,
    then register the realm as the tenant's `keycloak` sign-in provider. Safe to run again."""
    from auth.keycloak import KeycloakAdminError, SpecError, load_spec

    with opened_services() as services:
        services.sso.keycloak_admin()  # its settings first: nothing else can work without them
        try:
            realm_spec = load_spec(spec)
        except SpecError as exc:
            usage(str(exc))
        try:
            created, updated = services.sso.provision_keycloak(operator_access(services, tenant), realm_spec)
        except (KeycloakAdminError, SpecError) as exc:
            fail(str(exc))
    for item in created:
        console.print(f"created {item}")
    for item in updated:
        console.print(f"updated {item}")
    console.print(f"tenant {tenant} signs in through Keycloak realm {realm_spec.realm}")
