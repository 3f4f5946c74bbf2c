"""The route class and the group registry other routers build on: per-route body caps, routers that are
not GatewayRoute refused at mount, and a group's authentication run before the body is read."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from enclave.http.groups import RouterGroup, mount_groups
from enclave.http.problems import register_problem_handlers
from enclave.http.routing import MAX_BODY_STATE, max_body, resource_router
from tenancy.errors import UnauthenticatedError


class Note(BaseModel):
    text: str


def _app(authenticate: object = None) -> FastAPI:
    router = resource_router(prefix="/notes")

    @router.post("/small")
    @max_body(64)
    def small(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @router.post("/default")
    def default(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    app = FastAPI()
    setattr(app.state, MAX_BODY_STATE, 1024)
    mount_groups(app, (RouterGroup("test", "/api/v1", (router,), authenticate=authenticate),))  # type: ignore[arg-type]
    register_problem_handlers(app)
    return app


def test_a_route_may_set_its_own_body_cap() -> None:
    client = TestClient(_app())
    assert client.post("/api/v1/notes/small", json={"text": "x" * 40}).status_code == 200
    small = client.post("/api/v1/notes/small", json={"text": "x" * 100})
    assert small.status_code == 413 and "at most 64 bytes" in small.json()["detail"]
    assert client.post("/api/v1/notes/default", json={"text": "x" * 100}).status_code == 200
    assert client.post("/api/v1/notes/default", json={"text": "x" * 2000}).status_code == 413


def test_a_groups_authentication_runs_before_the_body_is_parsed() -> None:
    seen: list[str] = []

    def refuse(request: Request) -> None:
        seen.append(request.url.path)
        raise UnauthenticatedError("missing credentials")

    client = TestClient(_app(refuse))
    response = client.post(
        "/api/v1/notes/default", content=b"not even json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401 and seen == ["/api/v1/notes/default"]


def test_a_router_without_the_gateway_route_class_is_refused() -> None:
    plain = APIRouter()

    @plain.get("/plain")
    def plain_route() -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="resource_router"):
        mount_groups(FastAPI(), (RouterGroup("bad", "", (plain,)),))
