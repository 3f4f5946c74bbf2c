"""Where sessions, sign-in and Keycloak meet a gateway runtime: the one place the HTTP API, the web pages and
the command line get their session store, the Keycloak offboarding step and the provider declared by the
stack's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.sso.config import ProviderKind

if TYPE_CHECKING:
    from auth.sessions import SessionStore
    from auth.sso.clients import ProviderClients
    from auth.sso.config import ProviderConfig
    from auth.users_offboarding import IdpOffboarding
    from enclave.runtime import Runtime
    from enclave.settings import Settings

KEYCLOAK_PROVIDER_NAME = "keycloak"


def provider_clients(runtime: Runtime) -> ProviderClients:
    """Clients for the tenants' identity providers (plain-http loopback ones only where the settings allow)."""
    from auth.sso.clients import ProviderClients

    return ProviderClients(allow_insecure_loopback=runtime.settings.sso_allow_insecure_loopback_issuers)


def session_store(runtime: Runtime, clients: ProviderClients | None = None) -> SessionStore:
    """Sessions on this runtime, re-validated with their identity providers when due. The cache holds hot
    copies only when every replica shares it (Redis); an in-process cache would hide another process's
    revocation, so then every lookup reads the database."""
    from auth.sessions import SessionStore
    from auth.sso.revalidation import SessionRevalidator

    shared = None if runtime.settings.cache_url.startswith("memory://") else runtime.cache
    revalidator = SessionRevalidator(runtime.sessions, runtime.audit, clients or provider_clients(runtime))
    return SessionStore(runtime.sessions, shared, revalidator)


def keycloak_offboarding(runtime: Runtime, tenant: str) -> IdpOffboarding | None:
    """The Keycloak step of offboarding for a Keycloak-backed tenant (None for other tenants). A tenant
    backed by Keycloak without admin credentials configured is an error, not a silent skip."""
    from auth.keycloak import AdminConnection, admin_client, disable_and_logout
    from auth.sso.registry import list_providers

    with runtime.sessions() as session:
        realms = [
            row.issuer.rsplit("/realms/", 1)[1]
            for row in list_providers(session, tenant)
            if row.kind == ProviderKind.KEYCLOAK.value and row.issuer and "/realms/" in row.issuer
        ]
    if not realms:
        return None
    settings = runtime.settings
    if not (settings.keycloak_url and settings.keycloak_admin_client_id and settings.keycloak_admin_client_secret):
        raise ValueError("this tenant signs in through Keycloak: set ENCLAVE_KEYCLOAK_URL and its admin client")
    connection = AdminConnection(
        settings.keycloak_url,
        settings.keycloak_admin_client_id,
        settings.keycloak_admin_client_secret.get_secret_value(),
    )

    def disable(email: str) -> int:
        return sum(disable_and_logout(admin_client(connection), realm, email) for realm in realms)

    return disable


def declared_provider(settings: Settings) -> ProviderConfig | None:
    """The provider a tenant stack declares through `ENCLAVE_SSO_*` (infra/workload.py), as the tenant's
    `sso` provider; None when the stack declares no client."""
    from pydantic import SecretStr

    from auth.sso.config import GUID, ProviderConfig

    if not (settings.sso_provider and settings.sso_client_id):
        return None
    kind = settings.sso_provider
    options: dict[str, object] = {}
    issuer = settings.sso_issuer
    if kind is ProviderKind.MICROSOFT:  # a single-tenant issuer https://login.microsoftonline.com/<tid>/v2.0
        tid = (issuer or "").removesuffix("/v2.0").rsplit("/", 1)[-1]
        if not GUID.fullmatch(tid):
            raise ValueError(
                "sso_provider=microsoft needs sso_issuer https://login.microsoftonline.com/<tenant id>/v2.0"
            )
        options = {"directory": tid, "allowed_tenant_ids": (tid,)}
    if kind in (ProviderKind.GOOGLE, ProviderKind.GITHUB, ProviderKind.MICROSOFT):
        issuer = None  # fixed by the kind
    secret = settings.sso_client_secret
    return ProviderConfig.model_validate(
        {
            "name": "sso",
            "kind": kind,
            "client_id": settings.sso_client_id,
            "client_secret": SecretStr(secret.get_secret_value()) if secret else None,
            "issuer": issuer,
            "options": options,
        }
    )


def ensure_declared_provider(runtime: Runtime) -> None:
    """Dedicated gateways: the stack-declared provider exists in the tenant's configuration (added, audited,
    on first start; replaced when the declaration changes)."""
    from audit.events import SYSTEM_ACTOR
    from auth.sso.registry import add_provider, config_of, get_provider, remove_provider
    from enclave.db import transaction

    config = declared_provider(runtime.settings)
    tenant = runtime.settings.tenant
    if config is None or tenant is None:
        return
    with transaction(runtime.sessions) as session:
        existing = get_provider(session, tenant, config.name)
        if existing is not None and config_of(existing) == config:
            return
        if existing is not None:
            remove_provider(session, runtime.audit, SYSTEM_ACTOR, tenant, config.name)
            session.flush()
        add_provider(
            session,
            runtime.audit,
            SYSTEM_ACTOR,
            tenant,
            config,
            allow_insecure_loopback=runtime.settings.sso_allow_insecure_loopback_issuers,
        )
