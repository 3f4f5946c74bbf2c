"""What a tenant configures for single sign-on: its identity providers and its sign-in policy, validated.

A provider's client secret is held as a `SecretStr`: it never appears in a repr, a log or an error."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from auth.roles import Role

# Each rule is one regular expression, used both to validate and in the API's published schema.
PROVIDER_NAME_REGEX = r"[a-z][a-z0-9-]{0,39}"
DOMAIN_REGEX = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
GUID_REGEX = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SCOPE_REGEX = r"[\x21\x23-\x5b\x5d-\x7e]{1,100}"
# https anywhere; plain http only on loopback (local providers in tests and the demo); no query, fragment or
# credentials
ENDPOINT_URL_REGEX = (
    r"(?:https://[A-Za-z0-9.-]{1,253}|http://(?:127\.0\.0\.1|localhost))(?::[0-9]{1,5})?"
    r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,400})?"
)
PROVIDER_NAME = re.compile(PROVIDER_NAME_REGEX)
DOMAIN = re.compile(DOMAIN_REGEX)
GUID = re.compile(GUID_REGEX)
MICROSOFT_MULTI_TENANT = frozenset({"common", "organizations"})
# Public-key algorithms only: never `none`, never HS* (a provider's JWKS is public, so a MAC key from it is not
# a secret). Each provider may narrow this list, never widen it.
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class ProviderKind(StrEnum):
    GOOGLE = "google"
    GITHUB = "github"
    MICROSOFT = "microsoft"
    OIDC = "oidc"  # any issuer with discovery: Okta, Auth0, Ping, ...
    KEYCLOAK = "keycloak"  # an OIDC issuer whose realm Enclave provisions


# How the sign-in page names a provider of each kind ("Sign in with Google"); an OIDC or Keycloak provider goes
# by the name the tenant gave it.
KIND_LABELS: dict[ProviderKind, str] = {
    ProviderKind.GOOGLE: "Google",
    ProviderKind.GITHUB: "GitHub",
    ProviderKind.MICROSOFT: "Microsoft",
}


def provider_label(name: str, kind: str) -> str:
    known = {k.value: k for k in ProviderKind}
    return KIND_LABELS.get(known[kind], name) if kind in known else name


GOOGLE_ISSUER = "https://accounts.google.com"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
GITHUB_WEB = "https://github.com"
GITHUB_API = "https://api.github.com"


def check_endpoint_url(url: str, what: str) -> str:
    """`url` without a trailing slash, or ValueError: https, or http on loopback only; no query, fragment or
    credentials."""
    if not re.fullmatch(ENDPOINT_URL_REGEX, url):
        raise ValueError(f"{what} must be an https URL without query, fragment or credentials (http only on loopback)")
    return url.rstrip("/")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderOptions(_Model):
    """Kind-specific settings; each is refused on a kind it does not apply to."""

    hosted_domain: str | None = Field(None, description="google: the Workspace domain (`hd`) required")
    directory: str | None = Field(None, description="microsoft: a tenant id, or organizations / common")
    allowed_tenant_ids: tuple[str, ...] = Field((), description="microsoft: Entra tenant ids allowed to sign in")
    authority: str | None = Field(None, description="microsoft: authority base URL (default login.microsoftonline)")
    required_org: str | None = Field(None, description="github: organisation the user must belong to")
    required_team: str | None = Field(None, description="github: team slug within required_org")
    api_url: str | None = Field(None, description="github: API base (GitHub Enterprise); default api.github.com")
    web_url: str | None = Field(None, description="github: web base (GitHub Enterprise); default github.com")
    scopes: tuple[str, ...] = Field((), description="extra scopes to request (e.g. groups)")
    algorithms: tuple[str, ...] = Field((), description="narrow the ID-token algorithm allow-list")

    @field_validator("allowed_tenant_ids")
    @classmethod
    def _tenant_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tid in value:
            if not GUID.fullmatch(tid):
                raise ValueError(f"allowed tenant id {tid!r} is not a lower-case GUID")
        return value

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alg in value:
            if alg not in PUBLIC_KEY_ALGORITHMS:
                raise ValueError(f"algorithm {alg!r} is not allowed; choose from {', '.join(PUBLIC_KEY_ALGORITHMS)}")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if not re.fullmatch(SCOPE_REGEX, scope):
                raise ValueError(f"scope {scope!r} is not a valid OAuth scope token")
        return value

    @field_validator("hosted_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not DOMAIN.fullmatch(value):
            raise ValueError(f"hosted_domain {value!r} is not a lower-case domain name")
        return value

    @field_validator("authority", "api_url", "web_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else check_endpoint_url(value, "URL")


_KIND_OPTIONS: dict[ProviderKind, frozenset[str]] = {
    ProviderKind.GOOGLE: frozenset({"hosted_domain", "scopes", "algorithms"}),
    ProviderKind.MICROSOFT: frozenset({"directory", "allowed_tenant_ids", "authority", "scopes", "algorithms"}),
    ProviderKind.GITHUB: frozenset({"required_org", "required_team", "api_url", "web_url", "scopes"}),
    ProviderKind.OIDC: frozenset({"scopes", "algorithms"}),
    ProviderKind.KEYCLOAK: frozenset({"scopes", "algorithms"}),
}


class ProviderConfig(_Model):
    name: str
    kind: ProviderKind
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr | None = None
    issuer: str | None = Field(None, description="oidc / keycloak: the issuer, exactly as its tokens carry it")
    options: ProviderOptions = Field(default_factory=ProviderOptions)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROVIDER_NAME.fullmatch(value):
            raise ValueError("provider name must be 1-40 lower-case letters, digits or -, starting with a letter")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        # the issuer is compared exactly: keep it as given (no trailing-slash normalisation)
        if value is not None:
            check_endpoint_url(value, "issuer")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        given = {name for name in ProviderOptions.model_fields if getattr(self.options, name) not in (None, ())}
        stray = given - _KIND_OPTIONS[self.kind]
        if stray:
            raise ValueError(f"option(s) {', '.join(sorted(stray))} do not apply to a {self.kind} provider")
        if self.kind in (ProviderKind.OIDC, ProviderKind.KEYCLOAK) and self.issuer is None:
            raise ValueError(f"a {self.kind} provider needs its issuer URL")
        if self.kind in (ProviderKind.GOOGLE, ProviderKind.GITHUB, ProviderKind.MICROSOFT) and self.issuer:
            raise ValueError(f"a {self.kind} provider's issuer is fixed; do not give one")
        if self.kind is ProviderKind.MICROSOFT:
            self._check_microsoft()
        if self.kind is ProviderKind.GITHUB and self.options.required_team and not self.options.required_org:
            raise ValueError("required_team needs required_org")
        if self.kind is ProviderKind.GITHUB and self.client_secret is None:
            raise ValueError("a github provider needs its client secret (GitHub has no public clients)")
        return self

    def _check_microsoft(self) -> None:
        directory = self.options.directory
        if directory is None:
            raise ValueError("a microsoft provider needs directory: a tenant id, organizations or common")
        if directory not in MICROSOFT_MULTI_TENANT and not GUID.fullmatch(directory):
            raise ValueError("microsoft directory must be a tenant id (GUID), organizations or common")
        if not self.options.allowed_tenant_ids:
            raise ValueError("a microsoft provider needs allowed_tenant_ids (the Entra tenants that may sign in)")
        if GUID.fullmatch(directory) and self.options.allowed_tenant_ids != (directory,):
            raise ValueError("a single-tenant microsoft directory allows exactly that tenant id")

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.options.algorithms or PUBLIC_KEY_ALGORITHMS

    @property
    def discovery_issuer(self) -> str:
        """The issuer whose discovery document we read (Microsoft's may hold a `{tenantid}` template)."""
        if self.kind is ProviderKind.GOOGLE:
            return GOOGLE_ISSUER
        if self.kind is ProviderKind.MICROSOFT:
            return f"{self.options.authority or MICROSOFT_AUTHORITY}/{self.options.directory}/v2.0"
        if self.issuer is None:
            raise ValueError(f"a {self.kind} provider has no issuer")
        return self.issuer


class SignInPolicy(_Model):
    """Who may sign in to a tenant and with which role. The default is closed: invite-only."""

    allowed_domains: tuple[str, ...] = ()  # exact match on a verified email's domain; empty = any domain
    jit: bool = False  # create unknown users on first sign-in (with the tenant's default role)
    role_claim: str | None = None  # e.g. "groups"
    role_map: dict[str, Role] = Field(default_factory=dict)  # claim value -> role
    idle_timeout_seconds: int = Field(30 * 60, ge=60, le=30 * 86_400)
    absolute_timeout_seconds: int = Field(12 * 3600, ge=300, le=30 * 86_400)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not DOMAIN.fullmatch(domain):
                raise ValueError(f"allowed domain {domain!r} is not a lower-case domain name")
        return value

    @model_validator(mode="before")
    @classmethod
    def _idle_within_absolute(cls, data: Any) -> Any:
        """An idle limit longer than the absolute one never applies: it is the absolute one."""
        if isinstance(data, dict):
            idle, absolute = data.get("idle_timeout_seconds"), data.get("absolute_timeout_seconds")
            if isinstance(idle, int) and isinstance(absolute, int) and idle > absolute:
                data = {**data, "idle_timeout_seconds": absolute}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.role_map and not self.role_claim:
            raise ValueError("role_map needs role_claim (the claim whose values it maps)")
        return self
