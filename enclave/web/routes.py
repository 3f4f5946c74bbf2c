"""The browser side of sign-in and the account page.

`/auth/login` lists the tenant's providers; `/auth/login/{provider}` starts the code + PKCE flow (and sets
the short-lived browser-binding cookie); `/auth/callback` completes it and sets the session cookie
(`__Host-`, Secure, HttpOnly, SameSite=Lax, a new id at every sign-in); `/auth/logout` ends the session and
continues to the provider's end-session endpoint when it has one. `/account` shows the profile, the user's
sessions (revoke one, sign out everywhere) and API keys (create within the user's role, revoke). Every
state-changing request is a form POST checked for Origin and the session's CSRF token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from audit.events import Actor, ActorKind
from auth.apikeys import ApiKeyError, create_api_key, revoke_api_key
from auth.models import ApiKey, User
from auth.roles import Role
from auth.sessions import ActiveSession, SessionError
from auth.sessions_authn import LOGIN_COOKIE, SESSION_COOKIE
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError
from auth.sso.flow import LOGIN_TTL, safe_next_path
from auth.sso.models import IdentityProviderRow
from auth.sso.registry import list_providers
from auth.users import grantable_roles
from enclave.api.routing import resource_router
from enclave.cache import RateLimit, retry_after_seconds
from enclave.db import transaction
from enclave.web.context import WebTenant, request_context, runtime_of, sign_in_service, web_tenant
from enclave.web.csrf import CSRF_FIELD, check_csrf
from enclave.web.pages import render, stylesheet

router = resource_router(include_in_schema=False, tags=["pages"])
SIGNED_OUT_PATH = "/auth/signed-out"
PROVIDER_LABELS = {"google": "Google", "github": "GitHub", "microsoft": "Microsoft", "keycloak": "single sign-on"}
CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]


def _current(request: Request, tenant: WebTenant) -> tuple[str, ActiveSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    active = sign_in_service(request).store.lookup(token)
    if active is None or active.tenant != tenant.id:
        return None
    return token, active


def _actor(request: Request, active: ActiveSession) -> Actor:
    context = request_context(request)
    return Actor(ActorKind.USER, active.user_id, email=active.email, ip=context.ip, user_agent=context.user_agent)


def _to_sign_in(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/auth/login?next={next_path}", status_code=303)


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def _clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


def _message(tenant: WebTenant, heading: str, message: str, status: int, error: bool = True) -> Response:
    return render(
        "message.html", status, tenant_name=tenant.display_name, heading=heading, message=message, error=error
    )


def _sign_in_throttled(request: Request, tenant: WebTenant) -> Response | None:
    """Starting and finishing a sign-in are unauthenticated and audit what they refuse, so each client address
    gets a bounded number of attempts per window (Redis across replicas): nobody floods the audit log through
    them. Past it: 429 with Retry-After, and nothing audited."""
    runtime = runtime_of(request)
    settings = runtime.settings
    limit = RateLimit(settings.sign_in_attempts_per_client, settings.auth_failure_window_seconds)
    client = request.client.host if request.client else "unknown"
    wait = runtime.cache.take(f"signin:client:{client}", limit)
    if wait == 0:
        return None
    response = _message(
        tenant, "Too many sign-in attempts", "Too many sign-in attempts from this address; try again later.", 429
    )
    response.headers["Retry-After"] = str(retry_after_seconds(wait))
    return response


# -- assets and sign-in --------------------------------------------------------------------------------
@router.get("/assets/enclave.css")
def enclave_css() -> Response:
    return stylesheet()


@router.get("/auth/login")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    """The tenant's providers, always (a refused `next` is reported above them, never as "no provider")."""
    tenant = web_tenant(request)
    sign_in_service(request)  # registers a stack-declared provider on first use
    with runtime_of(request).sessions() as session:
        rows = list_providers(session, tenant.id)
    providers = [{"name": r.name, "label": PROVIDER_LABELS.get(r.name, r.name)} for r in rows]
    try:
        target, message, status = safe_next_path(next), None, 200
    except LoginRefusedError as exc:
        target, message, status = "/", str(exc), 400
    return render(
        "signin.html", status, tenant_name=tenant.display_name, providers=providers, next_path=target, message=message
    )


@router.get("/auth/login/{provider}")
def start_sign_in(request: Request, provider: str, next: str | None = None) -> Response:
    tenant = web_tenant(request)
    if (throttled := _sign_in_throttled(request, tenant)) is not None:
        return throttled
    service = sign_in_service(request)
    try:
        start = service.begin(
            tenant.id, provider, redirect_uri=tenant.redirect_uri, next_path=next, context=request_context(request)
        )
    except ProviderUnavailableError as exc:
        return _message(tenant, "Sign-in unavailable", str(exc), 503)
    except LoginRefusedError as exc:
        return _message(tenant, "Sign-in refused", str(exc), 400)
    response = RedirectResponse(start.redirect_url, status_code=302)
    _set_cookie(response, LOGIN_COOKIE, start.browser_binding, int(LOGIN_TTL.total_seconds()))
    return response


@router.get("/auth/callback")
def finish_sign_in(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,  # RFC 9207: the issuer the response comes from
) -> Response:
    tenant = web_tenant(request)
    if (throttled := _sign_in_throttled(request, tenant)) is not None:
        return throttled
    service = sign_in_service(request)
    try:
        result = service.complete(
            tenant.id,
            state=state,
            code=code,
            error=error,
            browser_binding=request.cookies.get(LOGIN_COOKIE),
            redirect_uri=tenant.redirect_uri,
            iss=iss,
            context=request_context(request),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except ProviderUnavailableError as exc:
        response = _message(tenant, "Sign-in unavailable", str(exc), 503)
    except LoginRefusedError as exc:
        response = _message(tenant, "Sign-in refused", str(exc), 403)
    else:
        response = RedirectResponse(result.next_path, status_code=303)
        lifetime = result.session.expires_at - result.session.created_at
        _set_cookie(response, SESSION_COOKIE, result.session_token, int(lifetime.total_seconds()))
    _clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/auth/logout")
def sign_out(request: Request, csrf_token: CsrfField = None) -> Response:
    tenant = web_tenant(request)
    current = _current(request, tenant)
    if current is None:
        response: Response = RedirectResponse(SIGNED_OUT_PATH, status_code=303)
    else:
        token, active = current
        check_csrf(request.method, request.headers, tenant.base_url, active.csrf_token, csrf_token)
        end_session = sign_in_service(request).logout(
            token, post_logout_redirect_uri=tenant.base_url + SIGNED_OUT_PATH, context=request_context(request)
        )
        response = RedirectResponse(end_session or SIGNED_OUT_PATH, status_code=303)
    _clear_cookie(response, SESSION_COOKIE)
    return response


@router.get(SIGNED_OUT_PATH)
def signed_out(request: Request) -> Response:
    return _message(web_tenant(request), "Signed out", "You are signed out.", 200, error=False)


# -- the account page ----------------------------------------------------------------------------------
def _account_page(
    request: Request,
    tenant: WebTenant,
    active: ActiveSession,
    *,
    notice: str | None = None,
    new_key: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    runtime = runtime_of(request)
    service = sign_in_service(request)
    with runtime.sessions() as session:
        user = session.get(User, active.user_id)
        sessions = service.store.list_for_user(session, tenant.id, active.user_id)
        keys = list(
            session.scalars(
                select(ApiKey)
                .where(ApiKey.tenant_id == tenant.id, ApiKey.created_by == active.user_id)
                .order_by(ApiKey.created_at)
            )
        )
        provider_row = None
        current_row = next((s for s in sessions if s.public_id == active.public_id), None)
        if current_row is not None and current_row.provider_id:
            provider_row = session.get(IdentityProviderRow, current_row.provider_id)
    form_targets: tuple[str, ...] = ()
    if provider_row is not None:
        try:
            end_session = service.provider(provider_row).endpoints().end_session
        except LoginRefusedError:  # the provider is unreachable now: sign-out stays local
            end_session = None
        if end_session:
            parts = urlsplit(end_session)
            form_targets = (f"{parts.scheme}://{parts.netloc}",)  # sign-out continues to the provider
    return render(
        "account.html",
        status,
        form_targets=form_targets,
        tenant_name=tenant.display_name,
        user=user,
        sessions=sessions,
        current_session=active.public_id,
        keys=keys,
        csrf_token=active.csrf_token,
        grantable_roles=[r.value for r in grantable_roles(active.role)],
        notice=notice,
        new_key=new_key,
    )


@router.get("/account")
def account(request: Request, notice: str | None = None) -> Response:
    tenant = web_tenant(request)
    current = _current(request, tenant)
    if current is None:
        return _to_sign_in("/account")
    return _account_page(request, tenant, current[1], notice=(notice or "")[:100] or None)


def _signed_in_post(request: Request, csrf_token: str | None) -> tuple[WebTenant, str, ActiveSession] | Response:
    tenant = web_tenant(request)
    current = _current(request, tenant)
    if current is None:
        return _to_sign_in("/account")
    token, active = current
    check_csrf(request.method, request.headers, tenant.base_url, active.csrf_token, csrf_token)
    return tenant, token, active


@router.post("/account/sessions/{public_id}/revoke")
def revoke_session(request: Request, public_id: str, csrf_token: CsrfField = None) -> Response:
    checked = _signed_in_post(request, csrf_token)
    if isinstance(checked, Response):
        return checked
    tenant, _, active = checked
    runtime = runtime_of(request)
    store = sign_in_service(request).store
    with runtime.sessions() as session:
        own = {s.public_id for s in store.list_for_user(session, tenant.id, active.user_id)}
    if public_id not in own:  # another user's session is as good as absent
        return _account_page(request, tenant, active, notice="No such session.", status=404)
    try:
        with transaction(runtime.sessions) as session:
            store.revoke(
                session,
                runtime.audit,
                _actor(request, active),
                tenant_id=tenant.id,
                public_id=public_id,
                reason="revoked by its user",
            )
    except SessionError as exc:
        return _account_page(request, tenant, active, notice=str(exc), status=409)
    return RedirectResponse("/account?notice=Session+revoked.", status_code=303)


@router.post("/account/sessions/revoke-all")
def sign_out_everywhere(request: Request, csrf_token: CsrfField = None) -> Response:
    checked = _signed_in_post(request, csrf_token)
    if isinstance(checked, Response):
        return checked
    tenant, _, active = checked
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        sign_in_service(request).store.revoke_all(
            session,
            runtime.audit,
            _actor(request, active),
            tenant_id=tenant.id,
            user_id=active.user_id,
            reason="sign out everywhere",
        )
    response = RedirectResponse(SIGNED_OUT_PATH, status_code=303)
    _clear_cookie(response, SESSION_COOKIE)
    return response


@router.post("/account/api-keys")
def create_key(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=20)],
    csrf_token: CsrfField = None,
) -> Response:
    checked = _signed_in_post(request, csrf_token)
    if isinstance(checked, Response):
        return checked
    tenant, _, active = checked
    runtime = runtime_of(request)
    allowed = grantable_roles(active.role)
    if role not in {r.value for r in allowed}:
        return _account_page(request, tenant, active, notice=f"Your role cannot create a {role!r} key.", status=403)
    ttl, max_ttl = runtime.settings.apikey_lifetime(None)
    try:
        with transaction(runtime.sessions) as session:
            issued = create_api_key(
                session,
                runtime.audit,
                _actor(request, active),
                tenant_id=tenant.id,
                role=Role(role),
                name=name,
                ttl=ttl,
                max_ttl=max_ttl,
            )
    except ApiKeyError as exc:
        return _account_page(request, tenant, active, notice=str(exc), status=400)
    return _account_page(
        request, tenant, active, notice="API key created.", new_key={"name": name, "secret": issued.secret}, status=201
    )


@router.post("/account/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, csrf_token: CsrfField = None) -> Response:
    checked = _signed_in_post(request, csrf_token)
    if isinstance(checked, Response):
        return checked
    tenant, _, active = checked
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant.id or key.created_by != active.user_id:
        return _account_page(request, tenant, active, notice="No such API key.", status=404)
    try:
        with transaction(runtime.sessions) as session:
            revoke_api_key(session, runtime.audit, _actor(request, active), tenant_id=tenant.id, key_id=key_id)
    except ApiKeyError as exc:
        return _account_page(request, tenant, active, notice=str(exc), status=409)
    return RedirectResponse("/account?notice=API+key+revoked.", status_code=303)
