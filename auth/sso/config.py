"""What a tenant configures for single sign-on: its identity providers and its sign-in policy, validated.

A provider's client secret is held as a `SecretStr`: it never appears in a repr, a log or an error."""

from __future__ import annotations

import re
from collections.abc import Iterable
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
_URL_PATH = r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,400})?"
ENDPOINT_URL_REGEX = r"(?:https://[A-Za-z0-9.-]{1,253}|http://(?:127\.0\.0\.1|localhost))" + _URL_PATH
# what a production gateway accepts (plain-http loopback providers are for development only, see
# check_transport): the HTTP API's published schema states this one
HTTPS_ENDPOINT_URL_REGEX = r"https://[A-Za-z0-9.-]{1,253}" + _URL_PATH
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


INSECURE_LOOPBACK_SETTING = "ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS"


def check_endpoint_url(url: str, what: str) -> str:
    """`url` without a trailing slash, or ValueError: https, or http on loopback only; no query, fragment or
    credentials. Whether a loopback http URL may be used at all is a separate, deployment-wide decision
    (`check_transport`)."""
    if not re.fullmatch(ENDPOINT_URL_REGEX, url):
        raise ValueError(f"{what} must be an https URL without query, fragment or credentials (http only on loopback)")
    return url.rstrip("/")


def check_transport(url: str, what: str, *, allow_insecure_loopback: bool) -> None:
    """ValueError for a plain-http (loopback) URL unless the deployment allows them: they exist for local
    development providers, and a production gateway must never talk to a provider, or follow a discovery
    document, over plain HTTP (nor be pointed at its own loopback services through one)."""
    if url.startswith("http://") and not allow_insecure_loopback:
        raise ValueError(
            f"{what} {url} uses plain HTTP: loopback http:// identity providers are for development only "
            f"(set {INSECURE_LOOPBACK_SETTING}=true on a development gateway)"
        )


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

    def check_transport(self, *, allow_insecure_loopback: bool) -> None:
        """ValueError when the configuration names a plain-http URL the deployment does not allow."""
        named = (
            ("issuer", self.issuer),
            ("authority", self.options.authority),
            ("api_url", self.options.api_url),
            ("web_url", self.options.web_url),
        )
        for what, url in named:
            if url is not None:
                check_transport(url, what, allow_insecure_loopback=allow_insecure_loopback)

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


# Claims whose value the end user (or anyone who can open an account) chooses, or that identify rather than
# authorise: never a source of roles. OpenID Connect Core 1.0 §5.1 standard claims (profile data the user edits
# at most providers) and the token's own registered claims; Microsoft's `upn` / `unique_name` / verified emails
# (https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference); GitHub's user profile
# fields (https://docs.github.com/en/rest/users/users#get-the-authenticated-user), which the account owner edits.
USER_CONTROLLED_CLAIMS = frozenset(
    {
        # OIDC Core §5.1
        "sub", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
        "picture", "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale",
        "phone_number", "phone_number_verified", "address", "updated_at",
        # the token itself (OIDC Core §2, RFC 7519 §4.1)
        "iss", "aud", "exp", "iat", "nbf", "jti", "nonce", "azp", "auth_time", "at_hash", "c_hash", "sid", "acr",
        "amr",
        # Microsoft Entra
        "upn", "unique_name", "verified_primary_email", "verified_secondary_email", "login_hint",
        # GitHub's user object
        "login", "id", "company", "blog", "location", "bio", "twitter_username",
    }
)  # fmt: skip
ROLE_CLAIM_REGEX = r"[A-Za-z0-9_.:/-]{1,100}"
MIN_REVALIDATE_SECONDS = 60
DEFAULT_REVALIDATE_SECONDS = 3600


def check_role_claim(claim: str) -> str:
    """`claim` if a role may be read from it, else ValueError saying why not."""
    if not re.fullmatch(ROLE_CLAIM_REGEX, claim):
        raise ValueError(f"role_claim {claim!r} must be 1-100 letters, digits or _ . : / -")
    first = claim.split(".", 1)[0].lower()
    if claim.lower() in USER_CONTROLLED_CLAIMS or first in USER_CONTROLLED_CLAIMS:
        raise ValueError(
            f"role_claim {claim!r} is not one the identity provider's administrator controls (the user can set or "
            "choose it, or it identifies rather than authorises): map roles from groups, roles, Entra app roles "
            "or another claim only your IdP administrators assign (see docs/sso.md)"
        )
    return claim


class SignInPolicy(_Model):
    """Who may sign in to a tenant and with which role. The default is closed: invite-only.

    With a role claim the identity provider is the source of truth for roles: the role is recomputed at every
    sign-in and re-validation (a user whose claim no longer maps gets the tenant's default role).
    `revalidate_seconds` bounds how long a session goes without the provider confirming the user again
    (refresh token, GitHub API) or, where the provider gives no means to, how long a session lasts."""

    allowed_domains: tuple[str, ...] = ()  # exact match on a verified email's domain; empty = any domain
    jit: bool = False  # create unknown users on first sign-in (with the tenant's default role)
    role_claim: str | None = None  # e.g. "groups", "roles", "realm_access.roles"
    role_map: dict[str, Role] = Field(default_factory=dict)  # claim value -> role
    idle_timeout_seconds: int = Field(30 * 60, ge=60, le=30 * 86_400)
    absolute_timeout_seconds: int = Field(12 * 3600, ge=300, le=30 * 86_400)
    revalidate_seconds: int = Field(DEFAULT_REVALIDATE_SECONDS, ge=MIN_REVALIDATE_SECONDS, le=86_400)

    @field_validator("role_claim")
    @classmethod
    def _role_claim(cls, value: str | None) -> str | None:
        return None if value is None else check_role_claim(value)

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


def role_claim_warnings(policy: SignInPolicy, providers: Iterable[ProviderConfig]) -> list[str]:
    """What may keep the policy's role claim from reaching Enclave through each provider: a kind whose tokens
    never carry such claims, or a scope that releases the claim but is not requested. Warnings, not errors:
    several providers release group claims without a scope, as their administrators configure them."""
    claim = policy.role_claim
    if claim is None:
        return []
    name = claim.split(".", 1)[0]
    warnings: list[str] = []
    for config in providers:
        where = f"provider {config.name!r} ({config.kind})"
        if config.kind is ProviderKind.GITHUB:
            warnings.append(
                f"{where}: GitHub returns no claims Enclave maps to roles (team membership needs its API); "
                "its users get the tenant's default role"
            )
        elif config.kind is ProviderKind.GOOGLE:
            warnings.append(
                f"{where}: Google ID tokens carry no group or role claims (Workspace groups need the Directory "
                "API); its users get the tenant's default role"
            )
        elif config.kind is ProviderKind.MICROSOFT:
            if name not in ("roles", "groups", "wids"):
                warnings.append(
                    f"{where}: Entra ID tokens carry `roles` (app roles) and, when the app registration's token "
                    f"configuration adds them, `groups`; {claim!r} arrives only as an optional claim you add"
                )
        elif name in ("groups", "roles") and name not in config.options.scopes:
            warnings.append(
                f"{where}: the {name!r} scope is not requested (add it with --scope {name}) unless the provider "
                f"releases {name!r} without it; users without the claim get the tenant's default role"
            )
    return warnings
