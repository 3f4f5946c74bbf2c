"""Keycloak for a tenant, through its Admin REST API (python-keycloak): provision the realm, the gateway's OIDC
client, brokered identity providers (Google, GitHub, Microsoft, any OIDC, SAML) and optional LDAP / Active
Directory federation from a spec file, idempotently (create what is missing, update what exists); and, at
offboarding, disable a user and end their Keycloak sessions.

Secrets never sit in the spec: it names environment variables (`*_env`) that hold them."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auth.sso.config import GUID, check_endpoint_url

USER_STORAGE = "org.keycloak.storage.UserStorageProvider"
ALIAS = r"^[a-z][a-z0-9-]{0,39}$"


class KeycloakAdminError(RuntimeError):
    """Provisioning or offboarding at Keycloak failed; the message says which step (never a secret)."""


class SpecError(ValueError):
    """A provisioning spec that cannot be used; the message says why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerKind(StrEnum):
    GOOGLE = "google"
    GITHUB = "github"
    MICROSOFT = "microsoft"
    OIDC = "oidc"
    SAML = "saml"


class BrokeredProvider(_Model):
    alias: str = Field(pattern=ALIAS)
    kind: BrokerKind
    display_name: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    hosted_domain: str | None = None  # google
    tenant_id: str | None = None  # microsoft: the customer's Entra tenant
    issuer: str | None = None  # oidc
    authorization_url: str | None = None  # oidc
    token_url: str | None = None  # oidc
    jwks_url: str | None = None  # oidc
    sso_url: str | None = None  # saml: the IdP's single sign-on service
    idp_entity_id: str | None = None  # saml
    signing_certificate: str | None = None  # saml: the IdP's signing certificate (base64 DER, public)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        oauth = self.kind is not BrokerKind.SAML
        if oauth and not (self.client_id and self.client_secret_env):
            raise ValueError(f"brokered provider {self.alias}: {self.kind} needs client_id and client_secret_env")
        needs: dict[BrokerKind, tuple[str, ...]] = {
            BrokerKind.MICROSOFT: ("tenant_id",),
            BrokerKind.OIDC: ("issuer", "authorization_url", "token_url", "jwks_url"),
            BrokerKind.SAML: ("sso_url", "idp_entity_id", "signing_certificate"),
        }
        missing = [name for name in needs.get(self.kind, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"brokered provider {self.alias}: {self.kind} needs {', '.join(missing)}")
        if self.tenant_id is not None and not GUID.fullmatch(self.tenant_id):
            raise ValueError(f"brokered provider {self.alias}: tenant_id must be a lower-case GUID")
        for name in ("issuer", "authorization_url", "token_url", "jwks_url", "sso_url"):
            value = getattr(self, name)
            if value is not None:
                check_endpoint_url(value, f"brokered provider {self.alias}: {name}")
        return self


class LdapFederation(_Model):
    name: str = Field("ldap", pattern=ALIAS)
    vendor: Literal["ad", "other"] = "ad"
    connection_url: str = Field(pattern=r"^ldaps?://[^\s]+$")
    users_dn: str = Field(min_length=1)
    bind_dn: str = Field(min_length=1)
    bind_credential_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    start_tls: bool = False

    @model_validator(mode="after")
    def _secure(self) -> Self:
        if self.connection_url.startswith("ldap://") and not self.start_tls:
            raise ValueError("LDAP federation over ldap:// needs start_tls (or use ldaps://)")
        return self


class GatewayClient(_Model):
    client_id: str = Field("enclave-gateway", min_length=1, max_length=255)
    redirect_uris: tuple[str, ...] = Field(min_length=1)
    post_logout_redirect_uris: tuple[str, ...] = ()
    web_origins: tuple[str, ...] = ()
    # https://<gateway host>/auth/backchannel-logout: Keycloak ends the gateway's sessions when the user's
    # Keycloak session ends (logout, an administrator, a disabled user)
    backchannel_logout_url: str | None = None

    @field_validator("backchannel_logout_url")
    @classmethod
    def _backchannel(cls, value: str | None) -> str | None:
        return None if value is None else check_endpoint_url(value, "backchannel_logout_url")


class KeycloakSpec(_Model):
    realm: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    display_name: str | None = None
    session_idle_seconds: int = Field(1800, ge=60, le=86_400)
    session_max_seconds: int = Field(36_000, ge=300, le=30 * 86_400)
    client: GatewayClient
    identity_providers: tuple[BrokeredProvider, ...] = ()
    ldap: LdapFederation | None = None

    @model_validator(mode="after")
    def _unique(self) -> Self:
        aliases = [p.alias for p in self.identity_providers]
        if len(aliases) != len(set(aliases)):
            raise ValueError("identity provider aliases must be unique")
        return self


def load_spec(path: Path) -> KeycloakSpec:
    """A spec from a .toml or .json file; SpecError with the reason when it cannot be read or is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise SpecError(f"{path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}") from None
    try:
        return KeycloakSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path}: {exc}") from None


def _secret(variable: str, environ: dict[str, str]) -> str:
    value = environ.get(variable)
    if not value:
        raise SpecError(f"environment variable {variable} (named in the spec) is not set")
    return value


# -- representations (Keycloak Admin REST API) ------------------------------------------------------------
def realm_representation(spec: KeycloakSpec) -> dict[str, Any]:
    return {
        "realm": spec.realm,
        "enabled": True,
        "displayName": spec.display_name or spec.realm,
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "bruteForceProtected": True,
        "revokeRefreshToken": True,
        "ssoSessionIdleTimeout": spec.session_idle_seconds,
        "ssoSessionMaxLifespan": spec.session_max_seconds,
    }


def client_representation(spec: KeycloakSpec) -> dict[str, Any]:
    client = spec.client
    return {
        "clientId": client.client_id,
        "name": "Enclave gateway",
        "protocol": "openid-connect",
        "enabled": True,
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "redirectUris": list(client.redirect_uris),
        "webOrigins": list(client.web_origins),
        "frontchannelLogout": False,
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "##".join(client.post_logout_redirect_uris),
            **(
                {
                    "backchannel.logout.url": client.backchannel_logout_url,
                    "backchannel.logout.session.required": "true",
                    "backchannel.logout.revoke.offline.tokens": "true",
                }
                if client.backchannel_logout_url
                else {}
            ),
        },
    }


def idp_representation(provider: BrokeredProvider, environ: dict[str, str]) -> dict[str, Any]:
    config: dict[str, str] = {"syncMode": "IMPORT"}
    provider_id = provider.kind.value
    if provider.kind is not BrokerKind.SAML:
        assert provider.client_id is not None
        assert provider.client_secret_env is not None
        config |= {"clientId": provider.client_id, "clientSecret": _secret(provider.client_secret_env, environ)}
    if provider.kind is BrokerKind.GOOGLE and provider.hosted_domain:
        config["hostedDomain"] = provider.hosted_domain
    if provider.kind in (BrokerKind.MICROSOFT, BrokerKind.OIDC):
        # Microsoft through the generic OIDC broker, pinned to the customer's own Entra tenant
        base = f"https://login.microsoftonline.com/{provider.tenant_id}"
        provider_id = "oidc"
        config |= {
            "issuer": provider.issuer or f"{base}/v2.0",
            "authorizationUrl": provider.authorization_url or f"{base}/oauth2/v2.0/authorize",
            "tokenUrl": provider.token_url or f"{base}/oauth2/v2.0/token",
            "jwksUrl": provider.jwks_url or f"{base}/discovery/v2.0/keys",
            "useJwksUrl": "true",
            "validateSignature": "true",
            "clientAuthMethod": "client_secret_post",
            "pkceEnabled": "true",
            "pkceMethod": "S256",
            "defaultScope": "openid email profile",
        }
    if provider.kind is BrokerKind.SAML:
        assert provider.sso_url is not None
        assert provider.idp_entity_id is not None
        assert provider.signing_certificate is not None
        config |= {
            "singleSignOnServiceUrl": provider.sso_url,
            "idpEntityId": provider.idp_entity_id,
            "signingCertificate": provider.signing_certificate,
            "validateSignature": "true",
            "wantAssertionsSigned": "true",
            "postBindingResponse": "true",
            "postBindingAuthnRequest": "true",
            "nameIDPolicyFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "principalType": "SUBJECT",
        }
    return {
        "alias": provider.alias,
        "displayName": provider.display_name or provider.alias,
        "providerId": provider_id,
        "enabled": True,
        "trustEmail": provider.kind in (BrokerKind.GOOGLE, BrokerKind.GITHUB),
        "firstBrokerLoginFlowAlias": "first broker login",
        "config": config,
    }


def ldap_representation(ldap: LdapFederation, realm_id: str, environ: dict[str, str]) -> dict[str, Any]:
    ad = ldap.vendor == "ad"
    config = {
        "vendor": ldap.vendor,
        "connectionUrl": ldap.connection_url,
        "usersDn": ldap.users_dn,
        "bindDn": ldap.bind_dn,
        "bindCredential": _secret(ldap.bind_credential_env, environ),
        "authType": "simple",
        "startTls": str(ldap.start_tls).lower(),
        "editMode": "READ_ONLY",
        "usernameLDAPAttribute": "sAMAccountName" if ad else "uid",
        "rdnLDAPAttribute": "cn" if ad else "uid",
        "uuidLDAPAttribute": "objectGUID" if ad else "entryUUID",
        "userObjectClasses": "person, organizationalPerson, user" if ad else "inetOrgPerson, organizationalPerson",
        "enabled": "true",
        "importEnabled": "true",
        "syncRegistrations": "false",
        "pagination": "true",
        "trustEmail": "false",
    }
    return {
        "name": ldap.name,
        "providerId": "ldap",
        "providerType": USER_STORAGE,
        "parentId": realm_id,
        "config": {key: [value] for key, value in config.items()},  # Keycloak's MultivaluedHashMap
    }


# -- provisioning -----------------------------------------------------------------------------------------
@dataclass
class ProvisionReport:
    realm: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    client_secret: str | None = field(default=None, repr=False)  # the gateway's, to configure the provider


@dataclass(frozen=True)
class AdminConnection:
    server_url: str
    client_id: str
    client_secret: str = field(repr=False)
    admin_realm: str = "master"


def admin_client(connection: AdminConnection) -> KeycloakAdmin:
    return KeycloakAdmin(
        connection=KeycloakOpenIDConnection(
            server_url=connection.server_url,
            realm_name=connection.admin_realm,
            user_realm_name=connection.admin_realm,
            client_id=connection.client_id,
            client_secret_key=connection.client_secret,
            grant_type="client_credentials",
            timeout=20,
        )
    )


def provision(admin: KeycloakAdmin, spec: KeycloakSpec, environ: dict[str, str] | None = None) -> ProvisionReport:
    """Create or update everything `spec` describes; safe to run again (a second run only updates)."""
    env = dict(os.environ) if environ is None else environ
    report = ProvisionReport(spec.realm)
    step = "realm"
    try:
        admin.change_current_realm("master")
        realms = {r["realm"] for r in admin.get_realms()}
        if spec.realm in realms:
            admin.update_realm(spec.realm, realm_representation(spec))
            report.updated.append(f"realm {spec.realm}")
        else:
            admin.create_realm(realm_representation(spec))
            report.created.append(f"realm {spec.realm}")
        admin.change_current_realm(spec.realm)
        step = f"client {spec.client.client_id}"
        internal_id = admin.get_client_id(spec.client.client_id)
        if internal_id is None:
            internal_id = admin.create_client(client_representation(spec))
            report.created.append(step)
        else:
            admin.update_client(internal_id, client_representation(spec))
            report.updated.append(step)
        report.client_secret = admin.get_client_secrets(internal_id).get("value")
        step = "identity providers"
        existing = {idp["alias"] for idp in admin.get_idps()}
        for provider in spec.identity_providers:
            step = f"identity provider {provider.alias}"
            payload = idp_representation(provider, env)
            if provider.alias in existing:
                admin.update_idp(provider.alias, payload)
                report.updated.append(step)
            else:
                admin.create_idp(payload)
                report.created.append(step)
        if spec.ldap is not None:
            step = f"LDAP federation {spec.ldap.name}"
            realm_id = admin.get_realm(spec.realm)["id"]
            payload = ldap_representation(spec.ldap, realm_id, env)
            found = admin.get_components({"parent": realm_id, "type": USER_STORAGE, "name": spec.ldap.name})
            if found:
                admin.update_component(found[0]["id"], payload)
                report.updated.append(step)
            else:
                admin.create_component(payload)
                report.created.append(step)
    except KeycloakError as exc:
        code = getattr(exc, "response_code", None)
        raise KeycloakAdminError(f"Keycloak refused the {step} step (HTTP {code})") from None
    return report


def disable_and_logout(admin: KeycloakAdmin, realm: str, email: str) -> int:
    """Disable the realm's users with this exact email and end their Keycloak sessions; how many."""
    try:
        admin.change_current_realm(realm)
        users = admin.get_users({"email": email, "exact": True})
        for user in users:
            admin.update_user(user["id"], {"enabled": False})
            admin.user_logout(user["id"])
    except KeycloakError as exc:
        raise KeycloakAdminError(
            f"Keycloak refused to disable {email} (HTTP {getattr(exc, 'response_code', None)})"
        ) from None
    return len(users)
