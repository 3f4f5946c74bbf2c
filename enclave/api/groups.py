"""The group registry: every router is mounted here, once, in the group whose dependencies it shares.

Adding a router is one line: put it in its group's `routers`. A group declares its authentication (run by
`GatewayRoute` before the body is read), its dependencies and the error responses every route in it may
give. Groups: probes (`/healthz`, `/readyz`), public, tenant-authenticated and operator, under /api/v1."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from starlette.routing import compile_path

from enclave.api.deps import authenticate_request, require_operator, tenant_principal
from enclave.api.problems import problem_responses
from enclave.api.routes import api_keys, audit, audit_key, health, sessions, sso, storage, storage_local, tenants, users
from enclave.api.routing import GatewayRoute
from enclave.web import backchannel
from enclave.web import routes as pages

API_PREFIX = "/api/v1"
AUTHENTICATED_PROBLEMS = problem_responses(400, 401, 403, 413, 422, 429, 503)


@dataclass(frozen=True)
class RouterGroup:
    name: str
    prefix: str
    routers: tuple[APIRouter, ...]
    dependencies: tuple[DependsParam, ...] = ()
    authenticate: Callable[[Request], object] | None = None  # run before the body is read
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)


GROUPS: tuple[RouterGroup, ...] = (
    RouterGroup("probes", "", (health.router,)),
    RouterGroup("pages", "", (pages.router,)),  # sign-in and account pages: each reads its session cookie
    RouterGroup("backchannel", "", (backchannel.router,)),  # the identity provider's signed logout tokens
    RouterGroup("public", API_PREFIX, (audit_key.router,)),
    RouterGroup("objects", "", (storage_local.router,)),  # the local store: each URL's signature authorises it
    RouterGroup(
        "tenant",
        API_PREFIX,
        (api_keys.router, audit.router, sso.router, sessions.router, users.router, storage.router),
        dependencies=(Depends(tenant_principal),),
        authenticate=authenticate_request,
        responses=AUTHENTICATED_PROBLEMS,
    ),
    RouterGroup(
        "operator",
        API_PREFIX,
        (tenants.router,),
        dependencies=(Depends(require_operator),),
        authenticate=authenticate_request,
        responses=AUTHENTICATED_PROBLEMS,
    ),
)


def mount_groups(app: FastAPI, groups: tuple[RouterGroup, ...] = GROUPS) -> None:
    """Include every group's routers in `app`, and record which methods each path allows (for `Allow`)."""
    allowed: list[tuple[re.Pattern[str], bool, frozenset[str]]] = []  # (path regex, has parameters, methods)
    for group in groups:
        mounted = APIRouter(prefix=group.prefix, dependencies=list(group.dependencies), responses=group.responses)
        for router in group.routers:
            for route in router.routes:
                if not isinstance(route, GatewayRoute):
                    raise TypeError(f"{route} is not a GatewayRoute: build routers with resource_router()")
                route.group = group
                regex, _, convertors = compile_path(route.template)
                allowed.append((regex, bool(convertors), frozenset(route.methods or ())))
            mounted.include_router(router)
        app.include_router(mounted)

    def allowed_methods(path: str) -> set[str]:
        """The methods of the path's own template: a literal one (`/sessions/revoke-all`) wins over one with
        parameters (`/sessions/{id}`) that also matches it, as OpenAPI path matching has it."""
        matches = [(parametric, methods) for regex, parametric, methods in allowed if regex.match(path)]
        literal = [methods for parametric, methods in matches if not parametric]
        chosen = literal or [methods for _, methods in matches]
        found = {method for methods in chosen for method in methods}
        return found | ({"HEAD"} if "GET" in found else set())

    app.state.allowed_methods = allowed_methods
