"""Single sign-on over the API: identity providers (the client secret goes in, never comes out) and the
tenant's sign-in policy.

A provider is one of five shapes, told apart by `kind`, so the published schema states every rule: what a
kind needs and what it refuses (a request valid against the schema is a valid configuration)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from auth.roles import Role
from auth.sso.config import (
    DEFAULT_REVALIDATE_SECONDS,
    DOMAIN_REGEX,
    GUID_REGEX,
    HTTPS_ENDPOINT_URL_REGEX,
    MIN_REVALIDATE_SECONDS,
    PROVIDER_NAME_REGEX,
    PUBLIC_KEY_ALGORITHMS,
    ROLE_CLAIM_REGEX,
    SCOPE_REGEX,
    ProviderConfig,
)
from enclave.api.models.json_types import JSON_INTEGER, JsonBool

Name = Annotated[str, Field(pattern=rf"^{PROVIDER_NAME_REGEX}$", description="shown on the sign-in page")]
# Printable ASCII without spaces (every provider's client ids are), spelled out: `\S` differs between regex
# dialects (U+0085 is white space to the server's validator, not to ECMAScript), so a client reading the
# OpenAPI document would think values valid that the gateway refuses.
ClientId = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[!-~]+$")]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=1000, description="write-only: never returned")]
Scope = Annotated[str, Field(pattern=rf"^{SCOPE_REGEX}$")]
Algorithm = Annotated[str, Field(pattern=rf"^(?:{'|'.join(PUBLIC_KEY_ALGORITHMS)})$")]
Endpoint = Annotated[str, Field(pattern=rf"^{HTTPS_ENDPOINT_URL_REGEX}$", max_length=500)]
Guid = Annotated[str, Field(pattern=rf"^{GUID_REGEX}$")]
Domain = Annotated[str, Field(pattern=rf"^{DOMAIN_REGEX}$", max_length=253)]


class _ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    client_id: ClientId
    client_secret: Secret | None = None
    scopes: list[Scope] = Field(default_factory=list, max_length=20, description="extra scopes to request")

    def config(self) -> ProviderConfig:
        """The provider configuration this request describes."""
        raise NotImplementedError

    def _config(self, kind: str, options: dict[str, Any], issuer: str | None = None) -> ProviderConfig:
        return ProviderConfig.model_validate(
            {
                "name": self.name,
                "kind": kind,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "issuer": issuer,
                "options": {"scopes": self.scopes, **options},
            }
        )


class _OidcFamily(_ProviderIn):
    algorithms: list[Algorithm] = Field(
        default_factory=list, max_length=10, description="narrow the ID-token algorithm allow-list"
    )


class OidcProviderIn(_OidcFamily):
    kind: Literal["oidc", "keycloak"]
    issuer: Endpoint = Field(description="the issuer, exactly as its tokens carry it (discovery must agree)")

    def config(self) -> ProviderConfig:
        return self._config(self.kind, {"algorithms": self.algorithms}, issuer=self.issuer)


class GoogleProviderIn(_OidcFamily):
    kind: Literal["google"]
    hosted_domain: Domain | None = Field(None, description="require this Workspace domain (`hd`)")

    def config(self) -> ProviderConfig:
        return self._config("google", {"algorithms": self.algorithms, "hosted_domain": self.hosted_domain})


class MicrosoftProviderIn(_OidcFamily):
    kind: Literal["microsoft"]
    allowed_tenant_ids: list[Guid] = Field(min_length=1, max_length=100, description="Entra tenants that may sign in")
    endpoint: Literal["single", "organizations", "common"] = Field(
        "single", description="single: the first allowed tenant's own endpoint (and only that tenant)"
    )
    authority: Endpoint | None = Field(None, description="authority base URL (sovereign clouds)")

    def config(self) -> ProviderConfig:
        single = self.endpoint == "single"
        options = {
            "algorithms": self.algorithms,
            "directory": self.allowed_tenant_ids[0] if single else self.endpoint,
            "allowed_tenant_ids": self.allowed_tenant_ids[:1] if single else self.allowed_tenant_ids,
            "authority": self.authority,
        }
        return self._config("microsoft", options)


class GitHubMembership(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
    team: str | None = Field(None, pattern=r"^[a-z0-9_-]{1,100}$", description="a team slug within org")


class GitHubProviderIn(_ProviderIn):
    kind: Literal["github"]
    client_secret: Secret  # GitHub has no public clients
    membership: GitHubMembership | None = Field(None, description="required organisation (and team)")
    api_url: Endpoint | None = Field(None, description="GitHub Enterprise Server API base")
    web_url: Endpoint | None = Field(None, description="GitHub Enterprise Server web base")

    def config(self) -> ProviderConfig:
        options = {
            "required_org": self.membership.org if self.membership else None,
            "required_team": self.membership.team if self.membership else None,
            "api_url": self.api_url,
            "web_url": self.web_url,
        }
        return self._config("github", options)


ProviderIn = Annotated[
    OidcProviderIn | GoogleProviderIn | MicrosoftProviderIn | GitHubProviderIn, Field(discriminator="kind")
]


class ProviderOut(BaseModel):
    name: str
    kind: str
    issuer: str | None
    client_id: str
    has_client_secret: bool
    options: dict[str, Any]
    created_at: datetime


class RoleMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim: str = Field(
        pattern=rf"^{ROLE_CLAIM_REGEX}$",
        description="the claim whose values map, e.g. groups, roles, realm_access.roles; never one the user "
        "controls (name, email, preferred_username, nickname, given_name, family_name, login, ...: refused)",
    )
    roles: dict[Annotated[str, Field(max_length=200)], Role] = Field(
        max_length=100, description="claim value -> role; the most privileged match wins"
    )


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_domains: list[Domain] = Field(
        default_factory=list, max_length=100, description="exact match on a verified email's domain; empty: any"
    )
    jit: JsonBool = Field(False, description="create users at first sign-in; false: invited users only")
    role_mapping: RoleMapping | None = None
    idle_timeout_seconds: Annotated[int, Field(ge=60, le=30 * 86_400), JSON_INTEGER] = Field(
        1800, description="past the absolute timeout it is the absolute timeout"
    )
    absolute_timeout_seconds: Annotated[int, Field(ge=300, le=30 * 86_400), JSON_INTEGER] = 43_200
    revalidate_seconds: Annotated[int, Field(ge=MIN_REVALIDATE_SECONDS, le=86_400), JSON_INTEGER] = Field(
        DEFAULT_REVALIDATE_SECONDS,
        description="how long a session goes without the identity provider confirming the user again",
    )


class PolicyOut(PolicyBody):
    warnings: list[str] = Field(
        default_factory=list, description="what may keep the role mapping from working with the tenant's providers"
    )
