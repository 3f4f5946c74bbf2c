"""A recording fake of the Keycloak Admin REST API on loopback, speaking the documented request and response
shapes (https://www.keycloak.org/docs-api/latest/rest-api/) for what Enclave uses: the client-credentials
token, realms, clients and their secret, identity-provider instances, components (user storage), users and
their logout. No Keycloak server can run on this machine."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback_http import serve_on_loopback

ADMIN_CLIENT = ("enclave-admin", "admin-secret-value-123")
ACCESS_TOKEN = "fake-admin-access-token"


@dataclass
class Realm:
    id: str
    representation: dict[str, Any]
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # internal id -> representation
    idps: dict[str, dict[str, Any]] = field(default_factory=dict)  # alias -> representation
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    logged_out: list[str] = field(default_factory=list)


@dataclass
class FakeKeycloak:
    base: str = ""
    realms: dict[str, Realm] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # method, path, JSON body
    fail_path: str | None = None  # answer 500 for paths matching this regex

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests if m in ("POST", "PUT") and not p.endswith("/token")]


def _handler(fake: FakeKeycloak) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return None

        def _reply(self, status: int, body: Any = None, location: str | None = None) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw and self.headers.get("content-type", "").startswith("application/json"):
                body = json.loads(raw)
            fake.requests.append((method, path, body))
            if fake.fail_path and re.search(fake.fail_path, path):
                return self._reply(500, {"error": "unknown_error"})
            if path == "/realms/master/protocol/openid-connect/token":
                form = parse_qs(raw.decode())
                if (form.get("client_id", [""])[0], form.get("client_secret", [""])[0]) != ADMIN_CLIENT:
                    return self._reply(401, {"error": "unauthorized_client"})
                return self._reply(200, {"access_token": ACCESS_TOKEN, "expires_in": 300, "token_type": "Bearer"})
            if self.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
                return self._reply(401, {"error": "HTTP 401 Unauthorized"})
            return self._admin(method, path, query, body)

        def _admin(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
            if path == "/admin/realms":
                if method == "GET":
                    return self._reply(200, [r.representation for r in fake.realms.values()])
                if body["realm"] in fake.realms:
                    return self._reply(409, {"errorMessage": "Conflict detected. See logs for details"})
                realm_id = str(uuid.uuid4())
                fake.realms[body["realm"]] = Realm(realm_id, {**body, "id": realm_id})
                return self._reply(201, location=f"{fake.base}/admin/realms/{body['realm']}")
            match = re.fullmatch(r"/admin/realms/([^/]+)(/.*)?", path)
            if match is None or match[1] not in fake.realms:
                return self._reply(404, {"error": "Realm not found."})
            realm, rest = fake.realms[match[1]], match[2] or ""
            if rest == "":
                if method == "GET":
                    return self._reply(200, realm.representation)
                realm.representation = {**realm.representation, **body, "id": realm.id}
                return self._reply(204)
            if rest == "/clients":
                if method == "GET":
                    found = [c for c in realm.clients.values() if c["clientId"] == query.get("clientId", c["clientId"])]
                    return self._reply(200, found if query.get("first", "0") == "0" else [])
                internal = str(uuid.uuid4())
                realm.clients[internal] = {**body, "id": internal, "secret": uuid.uuid4().hex}
                return self._reply(201, location=f"{fake.base}/admin/realms/{match[1]}/clients/{internal}")
            client = re.fullmatch(r"/clients/([^/]+)(/client-secret)?", rest)
            if client and client[1] in realm.clients:
                if client[2]:
                    return self._reply(200, {"type": "secret", "value": realm.clients[client[1]]["secret"]})
                realm.clients[client[1]] = {**body, "id": client[1], "secret": realm.clients[client[1]]["secret"]}
                return self._reply(204)
            if rest == "/identity-provider/instances":
                if method == "GET":
                    return self._reply(200, list(realm.idps.values()))
                if body["alias"] in realm.idps:
                    return self._reply(409, {"errorMessage": "Identity Provider already exists"})
                realm.idps[body["alias"]] = body
                return self._reply(
                    201, location=f"{fake.base}/admin/realms/{match[1]}/identity-provider/instances/{body['alias']}"
                )
            idp = re.fullmatch(r"/identity-provider/instances/([^/]+)", rest)
            if idp and idp[1] in realm.idps and method == "PUT":
                realm.idps[idp[1]] = body
                return self._reply(204)
            if rest == "/components":
                if method == "GET":
                    found = [
                        c
                        for c in realm.components.values()
                        if all(
                            c.get({"parent": "parentId", "type": "providerType"}.get(k, k)) == v
                            for k, v in query.items()
                        )
                    ]
                    return self._reply(200, found)
                internal = str(uuid.uuid4())
                realm.components[internal] = {**body, "id": internal}
                return self._reply(201, location=f"{fake.base}/admin/realms/{match[1]}/components/{internal}")
            component = re.fullmatch(r"/components/([^/]+)", rest)
            if component and component[1] in realm.components and method == "PUT":
                realm.components[component[1]] = {**body, "id": component[1]}
                return self._reply(204)
            if rest == "/users" and method == "GET":
                if query.get("first", "0") != "0":
                    return self._reply(200, [])
                email = query.get("email")
                return self._reply(200, [u for u in realm.users.values() if email is None or u["email"] == email])
            user = re.fullmatch(r"/users/([^/]+)(/logout)?", rest)
            if user and user[1] in realm.users:
                if user[2]:
                    realm.logged_out.append(user[1])
                else:
                    realm.users[user[1]] = {**realm.users[user[1]], **body}
                return self._reply(204)
            return self._reply(404, {"error": "Could not find resource"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


@contextmanager
def fake_keycloak() -> Iterator[FakeKeycloak]:
    fake = FakeKeycloak()
    with serve_on_loopback(_handler(fake)) as base:
        fake.base = base
        yield fake
