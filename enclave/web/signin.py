"""The public pages: the stylesheet, `/` (to the account page or to sign in), and signing in and out.

`/auth/login` lists the tenant's providers; `/auth/login/{provider}` starts the code + PKCE flow (and sets the
short-lived browser-binding cookie); `/auth/callback` completes it and sets the session cookie (`__Host-`,
Secure, HttpOnly, SameSite=Lax, a new id at every sign-in); `/auth/logout` ends the session and continues to
the provider's end-session endpoint when it has one; `/auth/signed-out` is where it comes back to."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from audit.events import ActorKind
from auth.sessions_authn import LOGIN_COOKIE, SESSION_COOKIE
from auth.sso.config import provider_label
from auth.sso.errors import LoginRefusedError, ProviderUnavailableError
from auth.sso.flow import LOGIN_TTL, RequestContext, safe_next_path
from auth.sso.registry import list_providers
from enclave.cache import RateLimit, retry_after_seconds
from enclave.http.deps import HostTenant, authenticate_request, check_form_csrf, client_ip, get_services, served_tenant
from enclave.http.routing import resource_router
from enclave.web.pages import clear_cookie, message_page, render, set_cookie, stylesheet
from tenancy.errors import UnauthenticatedError

router = resource_router(include_in_schema=False, tags=["pages"])
CALLBACK_PATH = "/auth/callback"
SIGNED_OUT_PATH = "/auth/signed-out"


def request_context(request: Request) -> RequestContext:
    return RequestContext(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


def redirect_uri(tenant: HostTenant) -> str:
    assert tenant.origin is not None
    return tenant.origin + CALLBACK_PATH


def _sign_in_throttled(request: Request, tenant: HostTenant) -> Response | None:
    """Starting and finishing a sign-in are unauthenticated and audit what they refuse, so each client address
    gets a bounded number of attempts per window (Redis across replicas): nobody floods the audit log through
    them. Past it: 429 with Retry-After, and nothing audited."""
    runtime = get_services(request).runtime
    settings = runtime.settings
    limit = RateLimit(settings.sign_in_attempts_per_client, settings.auth_failure_window_seconds)
    wait = runtime.cache.take(f"signin:client:{client_ip(request) or 'unknown'}", limit)
    if wait == 0:
        return None
    response = message_page(
        tenant, "Too many sign-in attempts", "Too many sign-in attempts from this address; try again later.", 429
    )
    response.headers["Retry-After"] = str(retry_after_seconds(wait))
    return response


@router.get("/assets/enclave.css")
def enclave_css() -> Response:
    return stylesheet()


@router.get("/")
def home() -> Response:
    """A browser at the gateway's root: its account (which sends it to sign in first when it has no session)."""
    return RedirectResponse("/account", status_code=303)


@router.get("/auth/login")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    tenant = served_tenant(request)
    services = get_services(request)
    services.sso.ensure_declared_provider()  # a stack-declared provider is listed from the first page on
    with services.runtime.sessions() as session:
        rows = list_providers(session, tenant.id)
    providers = [{"name": row.name, "label": provider_label(row.name, row.kind)} for row in rows]
    try:  # the tenant's providers, always: a refused `next` is reported above them, never as "no provider"
        target, message, status = safe_next_path(next), None, 200
    except LoginRefusedError as exc:
        target, message, status = "/", str(exc), 400
    return render(
        "signin.html", status, tenant_name=tenant.display_name, providers=providers, next_path=target, message=message
    )


@router.get("/auth/login/{provider}")
def start_sign_in(request: Request, provider: str, next: str | None = None) -> Response:
    tenant = served_tenant(request)
    if (throttled := _sign_in_throttled(request, tenant)) is not None:
        return throttled
    try:
        start = get_services(request).sign_in.begin(
            tenant.id, provider, redirect_uri=redirect_uri(tenant), next_path=next, context=request_context(request)
        )
    except ProviderUnavailableError as exc:
        return message_page(tenant, "Sign-in unavailable", str(exc), 503)
    except LoginRefusedError as exc:
        return message_page(tenant, "Sign-in refused", str(exc), 400)
    response = RedirectResponse(start.redirect_url, status_code=302)
    set_cookie(response, LOGIN_COOKIE, start.browser_binding, int(LOGIN_TTL.total_seconds()))
    return response


@router.get(CALLBACK_PATH)
def finish_sign_in(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,  # RFC 9207: the issuer the response comes from
) -> Response:
    tenant = served_tenant(request)
    if (throttled := _sign_in_throttled(request, tenant)) is not None:
        return throttled
    try:
        result = get_services(request).sign_in.complete(
            tenant.id,
            state=state,
            code=code,
            error=error,
            browser_binding=request.cookies.get(LOGIN_COOKIE),
            redirect_uri=redirect_uri(tenant),
            iss=iss,
            context=request_context(request),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except ProviderUnavailableError as exc:
        response: Response = message_page(tenant, "Sign-in unavailable", str(exc), 503)
    except LoginRefusedError as exc:
        response = message_page(tenant, "Sign-in refused", str(exc), 403)
    else:
        response = RedirectResponse(result.next_path, status_code=303)
        lifetime = result.session.expires_at - result.session.created_at
        set_cookie(response, SESSION_COOKIE, result.session_token, int(lifetime.total_seconds()))
    clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/auth/logout")
async def sign_out(request: Request) -> Response:
    """End this browser's session (its form carries the CSRF token) and continue to the provider's sign-out;
    without a live session, straight to the signed-out page."""
    tenant = served_tenant(request)
    token = request.cookies.get(SESSION_COOKIE)
    try:
        principal = await run_in_threadpool(authenticate_request, request, csrf_in_form=True)
    except UnauthenticatedError:
        principal = None
    if token is None or principal is None or principal.kind is not ActorKind.USER or principal.session is None:
        response: Response = RedirectResponse(SIGNED_OUT_PATH, status_code=303)
    else:
        await check_form_csrf(request)
        assert tenant.origin is not None
        end_session = await run_in_threadpool(
            get_services(request).sign_in.logout,
            token,
            post_logout_redirect_uri=tenant.origin + SIGNED_OUT_PATH,
            context=request_context(request),
        )
        response = RedirectResponse(end_session or SIGNED_OUT_PATH, status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get(SIGNED_OUT_PATH)
def signed_out(request: Request) -> Response:
    return message_page(served_tenant(request), "Signed out", "You are signed out.", 200, error=False)
