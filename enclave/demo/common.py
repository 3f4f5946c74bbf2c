"""What every part of the demo shares: its folder, its console, running the `enclave` command, the gateway
process's readiness and numbered steps."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.rule import Rule

DEMO_DIR = Path(".enclave/demo")
console = Console(width=None if sys.stdout.isatty() else 120)


def run_enclave(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "enclave.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        console.print(result.stdout, result.stderr, markup=False)
        raise SystemExit(f"`enclave {' '.join(args)}` failed with exit code {result.returncode}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(client: httpx.Client, gateway: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            raise SystemExit("the gateway exited during start-up; see its log above")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the gateway did not become ready within 60 s")


def step(title: str) -> None:
    console.print(Rule(f"[bold]{title}"))
