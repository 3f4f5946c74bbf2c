"""Router groups: every router is mounted once, in the group whose authentication and dependencies it shares.

A group declares its authentication (run by `GatewayRoute` before the body is read), its dependencies and the
error responses every route in it may give. The API's groups are in enclave/api/groups.py, the pages' in
enclave/web/groups.py; enclave/app.py mounts both. Adding a router is one line in its group's `routers`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.params import Depends as DependsParam
from starlette.routing import compile_path

from enclave.http.routing import GatewayRoute


@dataclass(frozen=True)
class RouterGroup:
    name: str
    prefix: str
    routers: tuple[APIRouter, ...]
    dependencies: tuple[DependsParam, ...] = ()
    authenticate: Callable[[Request], object] | None = None  # run before the body is read
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)


def mount_groups(app: FastAPI, groups: tuple[RouterGroup, ...]) -> None:
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
