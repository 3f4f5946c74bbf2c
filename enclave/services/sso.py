"""Single sign-on as a tenant's `sso.admin` manages it: identity providers (added, edited in place, removed)
and the sign-in policy; Keycloak realms Enclave provisions; and the provider a tenant stack declares through
`ENCLAVE_SSO_*`. Every change is audited in its own transaction."""

from __future__ import annotations

from pydantic import SecretStr

from audit.events import SYSTEM_ACTOR, AuditEvent
from auth.keycloak import AdminConnection, KeycloakSpec, admin_client, disable_and_logout, provision
from auth.roles import Permission
from auth.sso.config import GUID, ProviderConfig, ProviderKind, SignInPolicy
from auth.sso.errors import ProviderConflictError, ProviderNotFoundError
from auth.sso.models import IdentityProviderRow
from auth.sso.registry import (
    add_provider,
    config_of,
    get_policy,
    get_provider,
    list_providers,
    policy_warnings,
    remove_provider,
    replace_provider,
)
from auth.sso.registry import set_policy as store_policy
from auth.users_offboarding import IdpOffboarding
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.settings import Settings
from tenancy.errors import UnavailableError

KEYCLOAK_PROVIDER_NAME = "keycloak"


class Sso:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._declared_in_place = False
        # development only: identity providers at plain-http loopback URLs (ENCLAVE_SSO_ALLOW_INSECURE_...)
        self._allow_loopback = runtime.settings.sso_allow_insecure_loopback_issuers

    # -- providers --------------------------------------------------------------------------------------
    def providers(self, access: Access) -> list[IdentityProviderRow]:
        access.require(Permission.SSO_ADMIN)
        with self._runtime.sessions() as session:
            return list_providers(session, access.tenant)

    def add_provider(self, access: Access, config: ProviderConfig) -> IdentityProviderRow:
        access.require(Permission.SSO_ADMIN)
        with transaction(self._runtime.sessions) as session:
            return add_provider(
                session,
                self._runtime.audit,
                access.actor,
                access.tenant,
                config,
                allow_insecure_loopback=self._allow_loopback,
            )

    def replace_provider(self, access: Access, name: str, config: ProviderConfig) -> IdentityProviderRow:
        """Edit the provider `name` in place: it takes the new configuration, `config.name` included (a rename;
        ConflictError when another provider has that name). It keeps its id, so its users keep their links.
        The client secret is kept when `config` gives none and the kind stays the same."""
        access.require(Permission.SSO_ADMIN)
        with transaction(self._runtime.sessions) as session:
            row = get_provider(session, access.tenant, name)
            if row is None:
                raise ProviderNotFoundError(f"tenant {access.tenant!r} has no provider named {name!r}")
            if config.name != name and get_provider(session, access.tenant, config.name) is not None:
                raise ProviderConflictError(f"tenant {access.tenant!r} already has a provider named {config.name!r}")
            if config.client_secret is None and row.client_secret is not None and config.kind.value == row.kind:
                config = config.model_copy(update={"client_secret": SecretStr(row.client_secret)})
            return replace_provider(
                session,
                self._runtime.audit,
                access.actor,
                access.tenant,
                row,
                config,
                allow_insecure_loopback=self._allow_loopback,
            )

    def remove_provider(self, access: Access, name: str) -> None:
        access.require(Permission.SSO_ADMIN)
        with transaction(self._runtime.sessions) as session:
            remove_provider(session, self._runtime.audit, access.actor, access.tenant, name)

    # -- policy -----------------------------------------------------------------------------------------
    def policy(self, access: Access) -> SignInPolicy:
        access.require(Permission.SSO_ADMIN)
        with self._runtime.sessions() as session:
            return get_policy(session, access.tenant)

    def set_policy(self, access: Access, policy: SignInPolicy) -> list[str]:
        """Replace the policy (audited); warnings about what may keep its role mapping from working (a claim
        the providers do not release, or a scope not requested)."""
        access.require(Permission.SSO_ADMIN)
        with transaction(self._runtime.sessions) as session:
            return store_policy(session, self._runtime.audit, access.actor, access.tenant, policy)

    def policy_warnings(self, access: Access) -> list[str]:
        access.require(Permission.SSO_ADMIN)
        with self._runtime.sessions() as session:
            return policy_warnings(session, access.tenant)

    # -- Keycloak ---------------------------------------------------------------------------------------
    def keycloak_admin(self) -> AdminConnection:
        """The Keycloak admin connection from settings; UnavailableError naming what to set."""
        settings = self._runtime.settings
        if not (settings.keycloak_url and settings.keycloak_admin_client_id and settings.keycloak_admin_client_secret):
            raise UnavailableError(
                "set ENCLAVE_KEYCLOAK_URL, ENCLAVE_KEYCLOAK_ADMIN_CLIENT_ID and ENCLAVE_KEYCLOAK_ADMIN_CLIENT_SECRET"
            )
        return AdminConnection(
            settings.keycloak_url,
            settings.keycloak_admin_client_id,
            settings.keycloak_admin_client_secret.get_secret_value(),
        )

    def provision_keycloak(self, access: Access, spec: KeycloakSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Create or update the tenant's realm, gateway client, brokered providers and LDAP federation, then
        register the realm as the tenant's `keycloak` provider (audited). (created, updated) items."""
        access.require(Permission.SSO_ADMIN)
        connection = self.keycloak_admin()
        report = provision(admin_client(connection), spec)
        config = ProviderConfig(
            name=KEYCLOAK_PROVIDER_NAME,
            kind=ProviderKind.KEYCLOAK,
            client_id=spec.client.client_id,
            client_secret=SecretStr(report.client_secret) if report.client_secret else None,
            issuer=f"{connection.server_url.rstrip('/')}/realms/{spec.realm}",
        )
        audit = self._runtime.audit
        with transaction(self._runtime.sessions) as session:
            existing = get_provider(session, access.tenant, KEYCLOAK_PROVIDER_NAME)
            if existing is None:
                add_provider(
                    session, audit, access.actor, access.tenant, config, allow_insecure_loopback=self._allow_loopback
                )
            else:
                replace_provider(
                    session,
                    audit,
                    access.actor,
                    access.tenant,
                    existing,
                    config,
                    allow_insecure_loopback=self._allow_loopback,
                )
            audit.append(
                session,
                AuditEvent(
                    tenant=access.tenant,
                    actor=access.actor,
                    action="sso.keycloak.provisioned",
                    target=f"keycloak-realm:{spec.realm}",
                    details={"created": list(report.created), "updated": list(report.updated)},
                ),
            )
        return tuple(report.created), tuple(report.updated)

    def keycloak_offboarding(self, tenant: str) -> IdpOffboarding | None:
        """The Keycloak step of offboarding for a Keycloak-backed tenant (None for other tenants). A tenant
        backed by Keycloak without admin credentials configured is an error, not a silent skip."""
        with self._runtime.sessions() as session:
            realms = [
                row.issuer.rsplit("/realms/", 1)[1]
                for row in list_providers(session, tenant)
                if row.kind == ProviderKind.KEYCLOAK.value and row.issuer and "/realms/" in row.issuer
            ]
        if not realms:
            return None
        try:
            connection = self.keycloak_admin()
        except UnavailableError:
            raise ValueError(
                "this tenant signs in through Keycloak: set ENCLAVE_KEYCLOAK_URL and its admin client"
            ) from None

        def disable(email: str) -> int:
            return sum(disable_and_logout(admin_client(connection), realm, email) for realm in realms)

        return disable

    # -- the provider a tenant stack declares --------------------------------------------------------------
    def ensure_declared_provider(self) -> None:
        """Dedicated gateways: the stack-declared provider exists in the tenant's configuration (added, audited,
        on first start; replaced when the declaration changes). Checked once per process."""
        if self._declared_in_place:
            return
        config = declared_provider(self._runtime.settings)
        tenant = self._runtime.settings.tenant
        if config is None or tenant is None:
            return
        with transaction(self._runtime.sessions) as session:
            existing = get_provider(session, tenant, config.name)
            allow = self._allow_loopback
            if existing is None:
                add_provider(session, self._runtime.audit, SYSTEM_ACTOR, tenant, config, allow_insecure_loopback=allow)
            elif config_of(existing) != config:
                replace_provider(
                    session, self._runtime.audit, SYSTEM_ACTOR, tenant, existing, config, allow_insecure_loopback=allow
                )
        self._declared_in_place = True


def declared_provider(settings: Settings) -> ProviderConfig | None:
    """The provider a tenant stack declares through `ENCLAVE_SSO_*` (infra/workload.py), as the tenant's
    `sso` provider; None when the stack declares no client."""
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
