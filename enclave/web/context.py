"""What every page needs: the tenant this host serves and its fixed public base URL (redirect URIs and the
expected Origin derive from configuration, never from request headers), and the long-lived sign-in
service (it keeps each provider's discovery document and JWKS cache)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import Request

from auth.models import Tenant
from auth.sso.flow import RequestContext, SignInService
from auth.tenants import tenant_for_host
from enclave.api.hosts import request_host
from enclave.runtime import Runtime
from enclave.settings import Mode
from enclave.sso_runtime import ensure_declared_provider, provider_clients, session_store
from tenancy.errors import NotFoundError, UnavailableError

CALLBACK_PATH = "/auth/callback"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class WebTenant:
    id: str
    display_name: str
    base_url: str  # https://<host>, as configured

    @property
    def redirect_uri(self) -> str:
        return self.base_url + CALLBACK_PATH


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def web_tenant(request: Request) -> WebTenant:
    runtime = runtime_of(request)
    settings = runtime.settings
    with runtime.sessions() as session:
        if settings.mode is Mode.DEDICATED:
            tenant = session.get(Tenant, settings.tenant)
        else:
            host = request_host(request.scope)
            tenant = tenant_for_host(session, host) if host else None
    if tenant is None or tenant.disabled_at is not None:
        raise NotFoundError("no tenant is served at this address")
    if settings.mode is Mode.DEDICATED:
        if settings.public_url is None:
            raise UnavailableError("sign-in is not configured: set ENCLAVE_PUBLIC_URL to the gateway's address")
        base = settings.public_url.rstrip("/")
    else:
        base = f"https://{tenant.hostname}"
    return WebTenant(tenant.id, tenant.display_name, base)


def sign_in_service(request: Request) -> SignInService:
    """One service per application, made on first use (and, for a dedicated stack, the provider it declares
    through ENCLAVE_SSO_* registered)."""
    state = request.app.state
    with _LOCK:
        service: SignInService | None = getattr(state, "sign_in", None)
        if service is None:
            runtime = runtime_of(request)
            ensure_declared_provider(runtime)
            clients = provider_clients(runtime)
            service = SignInService(runtime.sessions, runtime.audit, session_store(runtime, clients), clients)
            state.sign_in = service
    return service


def request_context(request: Request) -> RequestContext:
    return RequestContext(
        ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent")
    )
