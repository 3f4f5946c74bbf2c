"""SCIM clients for the tests: scim2-client over httpx (its own engine needs httpx2, which is not installed:
Authlib switches to it when present), a gateway served by uvicorn on a free loopback port, and SCIM tokens.

The engine follows scim2_client/engines/httpx2.py (scim2-client 0.13.2, Apache-2.0): a `BaseSyncSCIMClient`
that sends through an `httpx.Client` whose base URL is the SCIM service's."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from scim2_client import BaseSyncSCIMClient
from scim2_client.client import RawResponse
from scim2_client.errors import RequestNetworkException

from audit.events import SYSTEM_ACTOR
from auth.scim.tokens import create_scim_token
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from tests.conftest import make_settings

TENANT = "acme"
SCIM_JSON = "application/scim+json"


class HttpxScimClient(BaseSyncSCIMClient):
    """scim2-client sending through `httpx.Client` (the client's base URL is the SCIM service's)."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        return same_origin and url.raw_path.startswith(base.raw_path)

    def _parse_json(self, response: RawResponse) -> Any:
        assert isinstance(response, httpx.Response)
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            error = RequestNetworkException()
            error.add_note(str(exc))
            raise error from exc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def issue_scim_token(runtime: Runtime, tenant: str = TENANT, name: str = "directory") -> str:
    with transaction(runtime.sessions) as session:
        return create_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=tenant, name=name).secret


@contextmanager
def live_gateway(database_url: str, data_dir: Path, **settings: object) -> Iterator[tuple[Runtime, str]]:
    """A dedicated gateway for tenant acme served by uvicorn on a loopback port, its public URL that address
    (so resource locations point back at it); yields the runtime and the origin."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    runtime = Runtime.open(make_settings(database_url, data_dir, public_url=origin, **settings))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Services.build(runtime)), host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    try:
        yield runtime, origin
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


@contextmanager
def scim_http(origin: str, token: str) -> Iterator[httpx.Client]:
    """An httpx client for the gateway's SCIM service, authenticated with `token`."""
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
    with httpx.Client(base_url=f"{origin}/scim/v2", headers=headers, timeout=30) as client:
        yield client
