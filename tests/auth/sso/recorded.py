"""A loopback HTTP server answering recorded provider responses (GitHub's REST API, Microsoft's discovery,
JWKS and token endpoints), so provider code is exercised over real HTTP. Records what it was asked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.loopback_http import serve_on_loopback

Response = tuple[int, Any]


@dataclass
class Recording:
    base: str = ""
    routes: dict[tuple[str, str], Response] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, body: Any) -> None:
        self.routes[(method, path)] = (status, body)


def _handler(recording: Recording) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return None

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            recording.requests.append((method, parts.path, dict(self.headers)))
            if method == "POST":
                self.rfile.read(int(self.headers.get("content-length", "0")))
            if method == "GET" and parts.path.endswith("/authorize"):  # the browser leg: straight back
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                target = f"{query['redirect_uri']}?{urlencode({'code': 'recorded-code', 'state': query['state']})}"
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
                return
            status, body = recording.routes.get((method, parts.path), (404, {"message": "Not Found"}))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def recorded_server() -> Iterator[Recording]:
    recording = Recording()
    with serve_on_loopback(_handler(recording)) as base:
        recording.base = base
        yield recording
