"""One client per identity-provider kind behind one interface: where to send the browser, and how to turn the
provider's token response into a verified identity.

OpenID Connect providers (any issuer, Keycloak, Google, Microsoft) share one implementation with small
per-kind checks; GitHub (OAuth 2 without ID tokens) has its own. The code exchange itself (PKCE verifier,
client authentication) is Authlib's."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from authlib.integrations.base_client import OAuthError

from auth.sso.config import (
    GITHUB_API,
    GITHUB_WEB,
    GUID,
    MICROSOFT_AUTHORITY,
    MICROSOFT_MULTI_TENANT,
    ProviderConfig,
    ProviderKind,
    check_endpoint_url,
)
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError
from auth.sso.http import (
    OAUTH_TIMEOUT,
    OAUTH_TRANSPORT_ERRORS,
    OAuth2Client,
    get_json,
    get_json_object,
    tls_context,
)
from auth.sso.idtoken import Expected, validate_id_token
from auth.sso.jwks import JwksCache

MAX_GROUPS = 200


@dataclass(frozen=True)
class VerifiedIdentity:
    """A person as the provider vouches for them. `subject` is the provider's stable key for the person
    (never an email); `email` counts only when `email_verified`."""

    provider_id: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    end_session: str | None = None


class IdentityProvider(Protocol):
    provider_id: str
    config: ProviderConfig

    def endpoints(self) -> Endpoints: ...
    def scope(self) -> str: ...
    def uses_nonce(self) -> bool: ...
    def identity(self, token: dict[str, Any], nonce: str) -> VerifiedIdentity: ...


def exchange_code(provider: IdentityProvider, *, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
    """The token response for an authorization code, through Authlib (PKCE verifier, client authentication)."""
    config = provider.config
    secret = config.client_secret.get_secret_value() if config.client_secret else None
    client = OAuth2Client(
        client_id=config.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=OAUTH_TIMEOUT,
        verify=tls_context(),
    )
    try:
        with client:
            token = client.fetch_token(
                provider.endpoints().token,
                code=code,
                code_verifier=code_verifier,
                headers={"Accept": "application/json"},
            )
    except OAuthError as exc:
        error = str(exc.error)[:60] if exc.error else "error"
        raise LoginRefusedError("code_rejected", f"the provider refused the authorization code ({error})") from None
    except OAUTH_TRANSPORT_ERRORS as exc:
        raise ProviderUnavailableError(f"token endpoint unreachable ({type(exc).__name__})") from None
    except ValueError:
        raise ProviderUnavailableError("token endpoint answered an unreadable response") from None
    if not isinstance(token, dict) or "error" in token:
        raise LoginRefusedError("code_rejected", "the provider refused the authorization code")
    return dict(token)


def _endpoint(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise ProviderUnavailableError(f"the provider's discovery document has no {name}")
    try:
        return check_endpoint_url(value, name)
    except ValueError as exc:
        raise ProviderUnavailableError(f"the provider's discovery document is unsafe: {exc}") from None


def _optional_endpoint(document: dict[str, Any], name: str) -> str | None:
    return None if document.get(name) is None else _endpoint(document, name)


class OidcProvider:
    """OpenID Connect with discovery. Kind-specific checks for Google and Microsoft are small methods here."""

    def __init__(self, provider_id: str, config: ProviderConfig, http: httpx.Client) -> None:
        self.provider_id = provider_id
        self.config = config
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.keys = JwksCache(self._fetch_jwks)

    # -- discovery -------------------------------------------------------------------------------------
    def expected_discovery_issuer(self) -> str:
        if self.config.kind is ProviderKind.MICROSOFT and self.config.options.directory in MICROSOFT_MULTI_TENANT:
            return f"{self.config.options.authority or MICROSOFT_AUTHORITY}/{{tenantid}}/v2.0"
        return self.config.discovery_issuer

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = f"{self.config.discovery_issuer}/.well-known/openid-configuration"
                document = get_json_object(self._http, url, "the provider's discovery document")
                if document.get("issuer") != self.expected_discovery_issuer():
                    raise LoginRefusedError(
                        "discovery_issuer_mismatch",
                        "the provider's discovery document names another issuer than the one configured",
                    )
                self._metadata = document
            return self._metadata

    def _fetch_jwks(self) -> Any:
        return get_json(self._http, _endpoint(self.metadata(), "jwks_uri"), "the provider's JWKS")

    def endpoints(self) -> Endpoints:
        document = self.metadata()
        return Endpoints(
            _endpoint(document, "authorization_endpoint"),
            _endpoint(document, "token_endpoint"),
            _optional_endpoint(document, "end_session_endpoint"),
        )

    def scope(self) -> str:
        return " ".join(dict.fromkeys(("openid", "email", "profile", *self.config.options.scopes)))

    def uses_nonce(self) -> bool:
        return True

    # -- the identity ----------------------------------------------------------------------------------
    def _issuer_for(self, claims: dict[str, Any]) -> str:
        if self.config.kind is not ProviderKind.MICROSOFT:
            return self.config.discovery_issuer
        tid = claims.get("tid")
        if not isinstance(tid, str) or not GUID.fullmatch(tid):
            raise LoginRefusedError("tenant_invalid", "the Microsoft ID token carries no valid tenant id (tid)")
        return self.expected_discovery_issuer().replace("{tenantid}", tid)

    def identity(self, token: dict[str, Any], nonce: str) -> VerifiedIdentity:
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginRefusedError("id_token_missing", "the provider returned no ID token")
        expected = Expected(self._issuer_for, self.config.client_id, nonce, self.config.algorithms)
        claims = validate_id_token(id_token, self.keys, expected)
        return identity_from_claims(self.provider_id, self.config, self._with_userinfo(claims, token))

    def _with_userinfo(self, claims: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
        endpoint = _optional_endpoint(self.metadata(), "userinfo_endpoint")
        access_token = token.get("access_token")
        if endpoint is None or not isinstance(access_token, str):
            return claims
        info = get_json_object(
            self._http, endpoint, "the provider's userinfo endpoint", {"Authorization": f"Bearer {access_token}"}
        )
        if not isinstance(info.get("sub"), str) or not hmac.compare_digest(info["sub"], claims["sub"]):
            raise LoginRefusedError("userinfo_sub_mismatch", "the userinfo subject differs from the ID token's")
        return {**info, **claims}  # the signed ID token wins where both speak


def _identity(provider_id: str, subject: str, claims: dict[str, Any], email_verified: bool) -> VerifiedIdentity:
    email = claims.get("email")
    name = claims.get("name")
    return VerifiedIdentity(
        provider_id=provider_id,
        subject=subject,
        email=email.lower() if isinstance(email, str) and email_verified else None,
        email_verified=email_verified and isinstance(email, str),
        name=name[:200] if isinstance(name, str) else None,
        claims=claims,
    )


def identity_from_claims(provider_id: str, config: ProviderConfig, claims: dict[str, Any]) -> VerifiedIdentity:
    """The identity behind validated ID-token claims, with each kind's own rules."""
    if config.kind is ProviderKind.GOOGLE:
        required = config.options.hosted_domain
        if required is not None and claims.get("hd") != required:
            raise LoginRefusedError("hosted_domain_mismatch", f"the Google account is not in the {required} domain")
        return _identity(provider_id, claims["sub"], claims, claims.get("email_verified") is True)
    if config.kind is ProviderKind.MICROSOFT:
        tid = claims.get("tid")
        if tid not in config.options.allowed_tenant_ids:
            raise LoginRefusedError(
                "tenant_not_allowed", "the Microsoft account belongs to a tenant that is not allowed"
            )
        oid = claims.get("oid")
        if not isinstance(oid, str) or not GUID.fullmatch(oid):
            raise LoginRefusedError("sub_invalid", "the Microsoft ID token carries no object id (oid)")
        # Entra's `email` claim is whatever the account's owner typed unless the domain's owner verified it
        # (`xms_edov`, an optional claim the app registration must request): trust only that.
        return _identity(provider_id, f"{tid}:{oid}", claims, claims.get("xms_edov") is True)
    return _identity(provider_id, claims["sub"], claims, claims.get("email_verified") is True)


class GitHubProvider:
    """GitHub's OAuth apps: the identity is the numeric user id; the email only a verified primary one."""

    def __init__(self, provider_id: str, config: ProviderConfig, http: httpx.Client) -> None:
        self.provider_id = provider_id
        self.config = config
        self._http = http
        self._web = config.options.web_url or GITHUB_WEB
        self._api = config.options.api_url or GITHUB_API

    def endpoints(self) -> Endpoints:
        return Endpoints(f"{self._web}/login/oauth/authorize", f"{self._web}/login/oauth/access_token")

    def scope(self) -> str:
        scopes = ["read:user", "user:email"] + (["read:org"] if self.config.options.required_org else [])
        return " ".join(dict.fromkeys((*scopes, *self.config.options.scopes)))

    def uses_nonce(self) -> bool:
        return False

    def _get(self, path: str, access_token: str, what: str) -> Any:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
        return get_json(self._http, f"{self._api}{path}", what, headers)

    def _membership_active(self, path: str, access_token: str) -> bool:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
        try:
            response = self._http.get(f"{self._api}{path}", headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(f"GitHub unreachable ({type(exc).__name__})") from None
        if response.status_code in (403, 404):
            return False
        if response.status_code != 200:
            raise ProviderUnavailableError(f"GitHub membership check answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailableError("GitHub membership check did not answer JSON") from None
        return isinstance(body, dict) and body.get("state") == "active"

    def identity(self, token: dict[str, Any], nonce: str) -> VerifiedIdentity:
        access_token = token.get("access_token")
        if not isinstance(access_token, str):
            raise LoginRefusedError("code_rejected", "GitHub returned no access token")
        user = self._get("/user", access_token, "GitHub's user endpoint")
        user_id = user.get("id") if isinstance(user, dict) else None
        login = user.get("login") if isinstance(user, dict) else None
        if isinstance(user_id, bool) or not isinstance(user_id, int) or not isinstance(login, str):
            raise ProviderUnavailableError("GitHub's user endpoint answered no numeric id and login")
        emails = self._get("/user/emails", access_token, "GitHub's emails endpoint")
        entries = emails if isinstance(emails, list) else []
        primary = [
            e["email"]
            for e in entries
            if isinstance(e, dict)
            and e.get("primary") is True
            and e.get("verified") is True
            and isinstance(e.get("email"), str)
        ]
        self._check_membership(login, access_token)
        name = user.get("name")
        email = primary[0].lower() if primary else None
        return VerifiedIdentity(
            provider_id=self.provider_id,
            subject=str(user_id),
            email=email,
            email_verified=email is not None,
            name=name[:200] if isinstance(name, str) else login,
            claims={"login": login, "id": user_id},
        )

    def _check_membership(self, login: str, access_token: str) -> None:
        org, team = self.config.options.required_org, self.config.options.required_team
        if org is None:
            return
        if not self._membership_active(f"/user/memberships/orgs/{quote(org, safe='')}", access_token):
            raise LoginRefusedError("org_required", f"the GitHub account is not an active member of {org}")
        if team is not None:
            path = f"/orgs/{quote(org, safe='')}/teams/{quote(team, safe='')}/memberships/{quote(login, safe='')}"
            if not self._membership_active(path, access_token):
                raise LoginRefusedError("team_required", f"the GitHub account is not in the team {org}/{team}")


def build_provider(provider_id: str, config: ProviderConfig, http: httpx.Client) -> IdentityProvider:
    if config.kind is ProviderKind.GITHUB:
        return GitHubProvider(provider_id, config, http)
    return OidcProvider(provider_id, config, http)
