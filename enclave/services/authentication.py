"""Who is calling: the authenticator chain (operator token, API key, browser session — auth/authn.py), the SCIM
token's own authenticator (/scim/v2 accepts nothing else, and nothing else accepts it) and the
failed-authentication limiter, built once for the gateway. The HTTP layer only hands them a request's
credentials (enclave/http/deps.py)."""

from __future__ import annotations

from dataclasses import dataclass

from auth.apikeys import KEY_PREFIX, ApiKeyAuthenticator
from auth.authn import AuthenticatorChain, OperatorTokenAuthenticator
from auth.scim.tokens import ScimTokenAuthenticator, ScimTokenElsewhere
from auth.sessions import SessionStore
from auth.sessions_authn import SessionAuthenticator
from enclave.cache import RateLimit
from enclave.runtime import Runtime
from enclave.services.failed_auth import FailedAuthLimiter
from enclave.services.refusals import RefusalRecorder


@dataclass(frozen=True)
class Authentication:
    chain: AuthenticatorChain
    scim: ScimTokenAuthenticator  # the one authenticator of /scim/v2
    limiter: FailedAuthLimiter


def build_authentication(runtime: Runtime, store: SessionStore, refusals: RefusalRecorder) -> Authentication:
    settings = runtime.settings
    operator_token = settings.operator_token.get_secret_value() if settings.operator_token else None
    window = settings.auth_failure_window_seconds
    return Authentication(
        chain=AuthenticatorChain(
            [
                ScimTokenElsewhere(runtime.sessions),  # first: the operator check would take it for its token
                OperatorTokenAuthenticator(operator_token, api_key_prefix=KEY_PREFIX),
                ApiKeyAuthenticator(runtime.sessions),
                SessionAuthenticator(store),
            ]
        ),
        scim=ScimTokenAuthenticator(runtime.sessions),
        limiter=FailedAuthLimiter(
            runtime.cache,
            runtime.appender,
            refusals,
            per_subject=RateLimit(settings.auth_failures_per_subject, window),
            per_client=RateLimit(settings.auth_failures_per_client, window),
        ),
    )
