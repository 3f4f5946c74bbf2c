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


def _refused_addresses(data_dir: Path) -> list[str | None]:
    """The client addresses on the tenant's `auth.apikey.used.denied` records."""
    import orjson
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{data_dir / 'enclave.db'}")
    try:
        with engine.connect() as connection:
            bodies = connection.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars().all()
    finally:
        engine.dispose()
    records = [orjson.loads(body) for body in bodies]
    return [r["actor"].get("ip") for r in records if r["action"] == "auth.apikey.used.denied"]


def _refused_request(port: int, forwarded_for: str) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/api-keys",
        headers={"Authorization": "Bearer enc_0123456789ab_" + "A" * 43, "X-Forwarded-For": forwarded_for},
        timeout=10,
    )
    assert response.status_code == 401


def test_forwarded_addresses_are_ignored_unless_a_trusted_proxy_sends_them(tmp_path: Path) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a client could then choose the address audit
    records and per-address limits see. Without ENCLAVE_TRUSTED_PROXIES the peer's own address counts."""
    with gateway(tmp_path) as port:
        _refused_request(port, "203.0.113.9")
    assert _refused_addresses(tmp_path / "data") == ["127.0.0.1"]


def test_a_configured_proxy_range_is_believed(tmp_path: Path) -> None:
    with gateway(tmp_path, ENCLAVE_TRUSTED_PROXIES="127.0.0.0/8") as port:
        _refused_request(port, "203.0.113.9")
    assert _refused_addresses(tmp_path / "data") == ["203.0.113.9"]
