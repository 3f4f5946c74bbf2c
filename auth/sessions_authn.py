"""The browser session as one more authenticator in the chain (auth/authn.py): the `__Host-` session cookie
names a live server-side session, whose user is the principal.

A cookie-authenticated request is exposed to cross-site request forgery: the gateway checks Origin and the
session's CSRF token on every state-changing request this authenticator lets in (enclave/web/csrf.py,
called from `authenticate_request`)."""

from __future__ import annotations

from auth.authn import Credentials
from auth.principal import Principal
from auth.sessions import SessionStore

SESSION_COOKIE = "__Host-enclave-session"
LOGIN_COOKIE = "__Host-enclave-login"  # binds a sign-in in flight to the browser that started it


class SessionAuthenticator:
    """The session's principal; None without a session cookie, with a bearer token (which wins), or with a
    cookie naming no live session. An ended session (expired, revoked, signed out) is how every browser
    session finishes, not an attack on one (the token is 256 random bits): the request is simply
    unauthenticated (401), the page sends the browser to sign in, and ending the session was audited."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.bearer is not None:
            return None  # a bearer token is the API key's or the operator's; a cookie never overrides it
        token = credentials.cookies.get(SESSION_COOKIE)
        active = self._store.lookup(token) if token else None
        return active.principal() if active is not None else None
