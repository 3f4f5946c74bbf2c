"""`enclave serve` as a real process: plain HTTP on the embedded default, and HTTPS with a certificate."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.tls import self_signed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gateway(tmp_path: Path, **env: str) -> Iterator[int]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    environment.update({"ENCLAVE_DATA_DIR": str(tmp_path / "data"), "ENCLAVE_TENANT": "acme", **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "enclave.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serves_plain_http_on_the_embedded_default(tmp_path: Path) -> None:
    with gateway(tmp_path) as port:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_serves_https_with_the_configured_certificate(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    with gateway(tmp_path, ENCLAVE_TLS_CERT_FILE=str(cert_file), ENCLAVE_TLS_KEY_FILE=str(key_file)) as port:
        response = httpx.get(
            f"https://127.0.0.1:{port}/healthz", verify=ssl.create_default_context(cafile=str(cert_file)), timeout=10
        )
        assert response.json() == {"status": "ok"}
        try:
            plain = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        except httpx.HTTPError:
            plain = None
        assert plain is None or plain.status_code >= 400  # no plaintext path
