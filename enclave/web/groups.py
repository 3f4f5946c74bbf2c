"""The pages' router groups (enclave/http/groups.py): public pages (the stylesheet, sign-in, signing out) and
signed-in pages, which authenticate through the same chain as the API (operator token, API key, session
cookie; failed attempts limited and audited) but answer an unauthenticated browser with a redirect to
sign in instead of 401, and take the CSRF token of their forms from the form itself."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from audit.events import ActorKind
from auth.principal import Principal
from enclave.http.deps import authenticate_request, check_form_csrf
from enclave.http.groups import RouterGroup
from enclave.web import account, admin, backchannel, files, signin
from tenancy.errors import UnauthenticatedError

SIGN_IN_PATH = "/auth/login"


class SignInRequiredError(Exception):
    """An unauthenticated browser on a signed-in page: sent to sign in, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def authenticate_page(request: Request) -> Principal:
    """The signed-in user of a page request. No credentials, an ended session, or a credential that is not a
    browser session: sign in (refused credentials are still limited and audited by the chain)."""
    target = request.url.path if request.method == "GET" else "/account"
    try:
        principal = authenticate_request(request, csrf_in_form=True)
    except UnauthenticatedError:
        raise SignInRequiredError(target) from None
    if principal.kind is not ActorKind.USER or principal.session is None:
        raise SignInRequiredError(target)
    return principal


def _to_sign_in(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(exc.next_path, safe='/')}", status_code=303)


def register_page_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequiredError, _to_sign_in)


PAGE_GROUPS: tuple[RouterGroup, ...] = (
    RouterGroup("public pages", "", (signin.router,)),
    RouterGroup("backchannel", "", (backchannel.router,)),  # the identity provider's signed logout tokens
    RouterGroup(
        "signed-in pages",
        "",
        (account.router, files.router, *admin.ROUTERS),
        dependencies=(Depends(check_form_csrf),),
        authenticate=authenticate_page,
    ),
)
