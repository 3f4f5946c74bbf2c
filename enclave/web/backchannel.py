"""`POST /auth/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 (§2.5, §2.8). The identity provider
posts a `logout_token` (form-encoded) and the gateway ends the sessions it names (auth/sso/backchannel.py).
No cookie, no CSRF token: the provider's signature is the request's authentication. 200 when the token was
acted on (ending no session is a success too), 400 with an OAuth-style error otherwise; never cached."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse, Response

from auth.sso.backchannel import LogoutTokenError
from enclave.http.deps import get_services, host_tenant
from enclave.http.routing import max_body, resource_router
from tenancy.errors import NotFoundError

router = resource_router(include_in_schema=False, tags=["pages"])
BACKCHANNEL_LOGOUT_PATH = "/auth/backchannel-logout"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store"}


@router.post(BACKCHANNEL_LOGOUT_PATH)
@max_body(32 * 1024)  # a logout token is at most 16 KiB (auth/sso/idtoken.py)
def backchannel_logout(request: Request, logout_token: Annotated[str | None, Form()] = None) -> Response:
    tenant = host_tenant(request)
    if tenant is None:
        raise NotFoundError("no tenant is served at this address")
    try:
        if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != FORM:
            raise LogoutTokenError("bad_request", f"the logout request must be {FORM}")
        ended = get_services(request).backchannel_logout.handle(tenant.id, logout_token)
    except LogoutTokenError as refused:
        error = {"error": "invalid_request", "error_description": str(refused)}
        return JSONResponse(error, 400, headers=NO_STORE)
    return JSONResponse({"sessions_ended": ended}, 200, headers=NO_STORE)
