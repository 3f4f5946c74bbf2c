"""One client per identity-provider kind behind one interface: where to send the browser, whether a response
comes from it (RFC 9207 `iss`), how to turn its token response into a verified identity, and how to ask it
again, during a session, whether the user still is who and what they were (a refresh token, GitHub's API).

OpenID Connect providers (any issuer, Keycloak, Google, Microsoft) share one implementation with small
per-kind checks; GitHub (OAuth 2 without ID tokens) has its own. The token requests themselves (PKCE
verifier, client authentication, refresh) are Authlib's."""

from __future__ import annotations

import hmac
import re
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
    check_transport,
)
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError
from auth.sso.http import (
    OAUTH_TIMEOUT,
    OAUTH_TRANSPORT_ERRORS,
    OAuth2Client,
    get_json,
    get_json_object,
    json_from,
    tls_context,
)
from auth.sso.idtoken import Expected, validate_id_token
from auth.sso.jwks import JwksCache


@dataclass(frozen=True)
class VerifiedIdentity:
    """A person as the provider vouches for them. `subject` is the provider's stable key for the person
    (never an email); `email` counts only when `email_verified`. `email_authoritative`: the provider speaks for
    the address's domain itself (its owner's directory), not only for someone having once received mail
    there; only such an email may claim an invitation (see `users.sign_in_user`)."""

    provider_id: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    claims: dict[str, Any] = field(default_factory=dict)
    email_authoritative: bool = False

    @property
    def session_id(self) -> str | None:
        """The provider's session id (`sid`), which back-channel logout names."""
        sid = self.claims.get("sid")
        return sid if isinstance(sid, str) and 0 < len(sid) <= 255 else None


@dataclass(frozen=True)
class Revalidated:
    """The provider's answer during a session: the user as it vouches for them now, and the credential to ask
    with next time (a rotated refresh token, or the same)."""

    identity: VerifiedIdentity
    credential: str


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
    def check_response_issuer(self, iss: str | None) -> None: ...
    def identity(self, token: dict[str, Any], nonce: str) -> VerifiedIdentity: ...
    def session_credential(self, token: dict[str, Any]) -> str | None: ...
    def revalidate(self, credential: str, original_nonce_hash: str | None) -> Revalidated: ...


def _token_request(provider: IdentityProvider, grant: dict[str, str], redirect_uri: str | None) -> dict[str, Any]:
    """A token-endpoint response through Authlib (PKCE verifier or refresh token, client authentication).
    LoginRefusedError when the provider refuses the grant; ProviderUnavailableError when it cannot be asked."""
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
    refreshing = "refresh_token" in grant
    what = "refresh token" if refreshing else "authorization code"
    reason = "refresh_refused" if refreshing else "code_rejected"
    headers = {"Accept": "application/json"}
    try:
        with client:
            url = provider.endpoints().token
            token = (
                client.refresh_token(url, refresh_token=grant["refresh_token"], headers=headers)
                if refreshing
                else client.fetch_token(url, code=grant["code"], code_verifier=grant["code_verifier"], headers=headers)
            )
    except OAuthError as exc:
        error = str(exc.error)[:60] if exc.error else "error"
        if refreshing and error != "invalid_grant":  # our client or the provider is at fault, not the user's grant
            raise ProviderUnavailableError(f"the provider could not refresh the session ({error})") from None
        raise LoginRefusedError(reason, f"the provider refused the {what} ({error})") from None
    except OAUTH_TRANSPORT_ERRORS as exc:
        raise ProviderUnavailableError(f"token endpoint unreachable ({type(exc).__name__})") from None
    except ValueError:
        raise ProviderUnavailableError("token endpoint answered an unreadable response") from None
    if not isinstance(token, dict) or "error" in token:
        raise LoginRefusedError(reason, f"the provider refused the {what}")
    return dict(token)


def exchange_code(provider: IdentityProvider, *, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
    """The token response for an authorization code."""
    return _token_request(provider, {"code": code, "code_verifier": code_verifier}, redirect_uri)


class OidcProvider:
    """OpenID Connect with discovery. Kind-specific checks for Google and Microsoft are small methods here.

    Every URL the discovery document names must be https (plain http on loopback only where the deployment
    allows it for development): a document must not point the gateway at plain-text or internal endpoints."""

    def __init__(
        self, provider_id: str, config: ProviderConfig, http: httpx.Client, *, allow_insecure_loopback: bool = False
    ) -> None:
        self.provider_id = provider_id
        self.config = config
        self._http = http
        self._allow_insecure_loopback = allow_insecure_loopback
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.keys = JwksCache(self._fetch_jwks)

    def _endpoint(self, name: str) -> str:
        value = self.metadata().get(name)
        if not isinstance(value, str):
            raise ProviderUnavailableError(f"the provider's discovery document has no {name}")
        try:
            url = check_endpoint_url(value, name)
            check_transport(url, name, allow_insecure_loopback=self._allow_insecure_loopback)
        except ValueError as exc:
            raise ProviderUnavailableError(f"the provider's discovery document is unsafe: {exc}") from None
        return url

    def _optional_endpoint(self, name: str) -> str | None:
        return None if self.metadata().get(name) is None else self._endpoint(name)

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
        return get_json(self._http, self._endpoint("jwks_uri"), "the provider's JWKS")

    def endpoints(self) -> Endpoints:
        return Endpoints(
            self._endpoint("authorization_endpoint"),
            self._endpoint("token_endpoint"),
            self._optional_endpoint("end_session_endpoint"),
        )

    def scope(self) -> str:
        # Entra issues a refresh token only for `offline_access`; re-validation during a session needs one
        # (https://learn.microsoft.com/en-us/entra/identity-platform/scopes-oidc#the-offline_access-scope).
        # Other OpenID Providers: Keycloak issues one by default, bound to the user's SSO session; Okta and
        # Auth0 want `offline_access` added to the provider's scopes.
        refresh = ("offline_access",) if self.config.kind is ProviderKind.MICROSOFT else ()
        return " ".join(dict.fromkeys(("openid", "email", "profile", *refresh, *self.config.options.scopes)))

    def uses_nonce(self) -> bool:
        return True

    # -- RFC 9207: the authorization response names its issuer -----------------------------------------
    def check_response_issuer(self, iss: str | None) -> None:
        """A provider that advertises `authorization_response_iss_parameter_supported` must name itself in the
        response; when a response names an issuer (advertised or not), it must be this provider's exactly
        (https://www.rfc-editor.org/rfc/rfc9207#section-2.4). Checked before the code goes anywhere."""
        advertised = self.metadata().get("authorization_response_iss_parameter_supported") is True
        if iss is None:
            if advertised:
                raise LoginRefusedError(
                    "response_issuer_missing",
                    "the sign-in response does not name its issuer, though this provider always does: "
                    "it may come from another provider than the one the sign-in started with",
                )
            return
        if not self._is_own_issuer(iss):
            raise LoginRefusedError(
                "response_issuer_mismatch",
                "the sign-in response comes from another issuer than the provider the sign-in started with",
            )

    def _is_own_issuer(self, iss: str) -> bool:
        expected = self.expected_discovery_issuer()
        if "{tenantid}" not in expected:
            return hmac.compare_digest(iss.encode(), expected.encode())
        prefix, suffix = expected.split("{tenantid}", 1)
        match = re.fullmatch(re.escape(prefix) + "(" + GUID.pattern + ")" + re.escape(suffix), iss)
        return match is not None and match.group(1) in self.config.options.allowed_tenant_ids

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

    def session_credential(self, token: dict[str, Any]) -> str | None:
        """The refresh token, when the provider gave one: re-validation asks with it."""
        refresh = token.get("refresh_token")
        return refresh if isinstance(refresh, str) and 0 < len(refresh) <= 8192 else None

    def revalidate(self, credential: str, original_nonce_hash: str | None) -> Revalidated:
        """The user as the provider vouches for them now: a refresh-token grant, whose ID token (when one comes)
        is validated as at sign-in, OpenID Connect Core 1.0 §12.2 rules for its nonce, and the userinfo
        endpoint's answer. A provider that disabled the user, ended their session there or revoked the
        grant refuses the refresh token (`invalid_grant`): LoginRefusedError."""
        token = _token_request(self, {"refresh_token": credential}, None)
        id_token = token.get("id_token")
        if isinstance(id_token, str):
            expected = Expected(
                self._issuer_for, self.config.client_id, None, self.config.algorithms, original_nonce_hash
            )
            claims = self._with_userinfo(validate_id_token(id_token, self.keys, expected), token)
        else:
            info = self._userinfo(token)
            if info is None:
                raise ProviderUnavailableError("the provider's refresh answered no ID token and it has no userinfo")
            claims = info
        identity = identity_from_claims(self.provider_id, self.config, claims)
        return Revalidated(identity, self.session_credential(token) or credential)

    def _userinfo(self, token: dict[str, Any]) -> dict[str, Any] | None:
        endpoint = self._optional_endpoint("userinfo_endpoint")
        access_token = token.get("access_token")
        if endpoint is None or not isinstance(access_token, str):
            return None
        info = get_json_object(
            self._http, endpoint, "the provider's userinfo endpoint", {"Authorization": f"Bearer {access_token}"}
        )
        if not isinstance(info.get("sub"), str):
            raise LoginRefusedError("userinfo_sub_mismatch", "the userinfo response names no subject")
        return info

    def _with_userinfo(self, claims: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
        info = self._userinfo(token)
        if info is None:
            return claims
        if not hmac.compare_digest(info["sub"], claims["sub"]):
            raise LoginRefusedError("userinfo_sub_mismatch", "the userinfo subject differs from the ID token's")
        return {**info, **claims}  # the signed ID token wins where both speak


def _identity(
    provider_id: str, subject: str, claims: dict[str, Any], email_verified: bool, authoritative: bool
) -> VerifiedIdentity:
    email = claims.get("email")
    name = claims.get("name")
    verified = email_verified and isinstance(email, str)
    return VerifiedIdentity(
        provider_id=provider_id,
        subject=subject,
        email=email.lower() if isinstance(email, str) and email_verified else None,
        email_verified=verified,
        name=name[:200] if isinstance(name, str) else None,
        claims=claims,
        email_authoritative=verified and authoritative,
    )


def _google_is_authoritative(claims: dict[str, Any]) -> bool:
    """Google speaks for an address only for Gmail and for a Workspace domain the token names in `hd`; for any
    other address `email_verified` means only that its owner once received mail there ("Google is considered
    the authoritative source for @gmail.com and verified G Suite accounts",
    https://developers.google.com/identity/account-linking/oauth-with-sign-in-linking, and
    https://developers.google.com/identity/openid-connect/openid-connect#obtainuserinfo)."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return False
    domain = email.rsplit("@", 1)[1].lower()
    hosted = claims.get("hd")
    return domain == "gmail.com" or (isinstance(hosted, str) and hosted.lower() == domain)


def identity_from_claims(provider_id: str, config: ProviderConfig, claims: dict[str, Any]) -> VerifiedIdentity:
    """The identity behind validated ID-token claims, with each kind's own rules."""
    if config.kind is ProviderKind.GOOGLE:
        required = config.options.hosted_domain
        if required is not None and claims.get("hd") != required:
            raise LoginRefusedError("hosted_domain_mismatch", f"the Google account is not in the {required} domain")
        verified = claims.get("email_verified") is True
        return _identity(provider_id, claims["sub"], claims, verified, _google_is_authoritative(claims))
    if config.kind is ProviderKind.MICROSOFT:
        tid = claims.get("tid")
        if tid not in config.options.allowed_tenant_ids:
            raise LoginRefusedError(
                "tenant_not_allowed", "the Microsoft account belongs to a tenant that is not allowed"
            )
        oid = claims.get("oid")
        if not isinstance(oid, str) or not GUID.fullmatch(oid):
            raise LoginRefusedError("sub_invalid", "the Microsoft ID token carries no object id (oid)")
        # Entra's `email` claim is whatever the account's owner or a guest's home tenant typed unless the domain's
        # owner verified it (`xms_edov`, an optional claim the app registration must request,
        # https://learn.microsoft.com/en-us/entra/identity-platform/optional-claims-reference and
        # https://learn.microsoft.com/en-us/entra/identity-platform/migrate-off-email-claim-authorization):
        # trust only that; with it the address's domain owner speaks for it.
        edov = claims.get("xms_edov") is True
        return _identity(provider_id, f"{tid}:{oid}", claims, edov, edov)
    # Any other OpenID Provider is the tenant's own directory (Okta, Auth0, Keycloak, ...): its
    # `email_verified: true` is the directory's word for the address.
    verified = claims.get("email_verified") is True
    return _identity(provider_id, claims["sub"], claims, verified, verified)


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

    def check_response_issuer(self, iss: str | None) -> None:
        """GitHub does not name itself in authorization responses (it publishes no RFC 9207 metadata); a
        response that does name an issuer must name GitHub's own web origin."""
        if iss is not None and not hmac.compare_digest(iss.encode(), self._web.encode()):
            raise LoginRefusedError(
                "response_issuer_mismatch",
                "the sign-in response comes from another issuer than the provider the sign-in started with",
            )

    def _request(self, path: str, access_token: str, what: str) -> httpx.Response:
        """GitHub's answer; a token GitHub no longer accepts (revoked by the user or an org owner, the account
        suspended: 401 Bad credentials) is a refusal, not an outage."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
        try:
            response = self._http.get(f"{self._api}{path}", headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(f"GitHub unreachable ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise LoginRefusedError("token_revoked", "GitHub no longer accepts this account's authorization")
        return response

    def _get(self, path: str, access_token: str, what: str) -> Any:
        return json_from(self._request(path, access_token, what), what)

    def _membership_active(self, path: str, access_token: str) -> bool:
        response = self._request(path, access_token, "GitHub membership check")
        if response.status_code in (403, 404):
            return False
        if response.status_code != 200:
            raise ProviderUnavailableError(f"GitHub membership check answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailableError("GitHub membership check did not answer JSON") from None
        return isinstance(body, dict) and body.get("state") == "active"

    def session_credential(self, token: dict[str, Any]) -> str | None:
        """The OAuth app's access token (it does not expire unless revoked): re-validation asks GitHub with it."""
        access_token = token.get("access_token")
        return access_token if isinstance(access_token, str) and 0 < len(access_token) <= 8192 else None

    def revalidate(self, credential: str, original_nonce_hash: str | None) -> Revalidated:
        """The account as GitHub describes it now, its organisation and team membership checked again."""
        return Revalidated(self.identity({"access_token": credential}, ""), credential)

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
        # "verified" means the account's owner once received mail at the address
        # (https://docs.github.com/en/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-email-preferences/verifying-your-email-address):
        # GitHub does not speak for the domain. With a required organisation, that organisation vouches for
        # the account; without one, anyone who once verified the address could claim an invitation to it.
        return VerifiedIdentity(
            provider_id=self.provider_id,
            subject=str(user_id),
            email=email,
            email_verified=email is not None,
            name=name[:200] if isinstance(name, str) else login,
            claims={"login": login, "id": user_id},
            email_authoritative=email is not None and self.config.options.required_org is not None,
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


def build_provider(
    provider_id: str, config: ProviderConfig, http: httpx.Client, *, allow_insecure_loopback: bool = False
) -> IdentityProvider:
    if config.kind is ProviderKind.GITHUB:
        return GitHubProvider(provider_id, config, http)
    return OidcProvider(provider_id, config, http, allow_insecure_loopback=allow_insecure_loopback)
