"""Start and stop the real local services these tests use (moto server, Azurite) on free loopback ports."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1, verify=False)  # readiness only; tests verify the emulator's certificate
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url}")


@contextmanager
def _running(command: list[str], url: str, what: str, env: dict[str, str] | None = None) -> Iterator[str]:
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait(url, process, what)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def moto_server(free_actions: int | None) -> Iterator[str]:
    """moto's server. With `free_actions`, IAM-enforcing: the first `free_actions` requests are set-up, then
    IAM decides; with None, nothing is enforced."""
    port = free_port()
    env = {"AWS_DEFAULT_REGION": "eu-west-1"}
    if free_actions is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(free_actions)
    with _running(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/",
        "moto server",
        env,
    ) as url:
        yield url.removesuffix("/moto-api/")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for https://127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@contextmanager
def azurite(location: Path, *, oauth: bool = False) -> Iterator[str]:
    """Azurite's blob service; yields the account URL of the well-known dev account. With `oauth`, it serves
    HTTPS (certificate at location/cert.pem) and accepts Azure AD bearer tokens (checked for issuer,
    audience and lifetime, not signature), which user delegation keys need."""
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists() or shutil.which("node") is None:
        raise RuntimeError("Azurite is not installed (npm ci installs node_modules/.bin/azurite-blob)")
    port = free_port()
    command = [
        str(binary),
        "--silent",
        "--location",
        str(location),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--loose",
        "--skipApiVersionCheck",
    ]
    scheme = "http"
    if oauth:
        cert_file, key_file = self_signed_certificate(location)
        command += ["--oauth", "basic", "--cert", str(cert_file), "--key", str(key_file)]
        scheme = "https"
    with _running(command, f"{scheme}://127.0.0.1:{port}/devstoreaccount1?comp=list", "Azurite"):
        yield f"{scheme}://127.0.0.1:{port}/devstoreaccount1"


def azurite_account_key() -> str:
    """The emulator's well-known development account key, read from Azurite itself."""
    constants = (ROOT / "node_modules" / "azurite" / "dist" / "src" / "blob" / "utils" / "constants.js").read_text()
    match = re.search(r'EMULATOR_ACCOUNT_KEY_STR = "([^"]+)"', constants)
    if match is None:
        raise RuntimeError("Azurite's development key not found in its constants")
    return match.group(1)
