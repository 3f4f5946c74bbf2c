"""Rendering the pages: Jinja2 templates with autoescaping, one stylesheet served by the gateway itself, and a
strict Content-Security-Policy (no scripts at all, nothing from elsewhere, forms post only to the gateway
and, for sign-out, to the provider's end-session endpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from enclave.http.deps import HostTenant

HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET = (HERE / "static" / "enclave.css").read_bytes()


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    forms = " ".join(("'self'", *form_targets))
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action {forms}; frame-ancestors 'none'; base-uri 'none'"
    )


def render(template: str, status: int = 200, *, form_targets: tuple[str, ...] = (), **context: Any) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": content_security_policy(form_targets),
            "Cache-Control": "no-store",
            # not no-referrer: under it browsers send `Origin: null` even on same-origin form posts, and the
            # CSRF check needs the real origin; same-origin still sends nothing to other sites
            "Referrer-Policy": "same-origin",
        },
    )


def stylesheet() -> Response:
    return Response(
        STYLESHEET,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "Content-Security-Policy": "default-src 'none'"},
    )


def message_page(tenant: HostTenant, heading: str, message: str, status: int, error: bool = True) -> HTMLResponse:
    return render(
        "message.html", status, tenant_name=tenant.display_name, heading=heading, message=message, error=error
    )


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")
