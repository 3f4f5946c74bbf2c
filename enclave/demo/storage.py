"""The README demo's storage part: real bytes through `local` signed URLs, a key that tries to leave the
prefix refused, customer IT revoking (the next request refused on this gateway and on a second gateway
process), restoring, and the audit log holding every batch."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from rich.console import Console

Step = Callable[[str], None]
Cli = Callable[..., "subprocess.CompletedProcess[str]"]


@contextmanager
def _second_gateway(env: dict[str, str], port: int, wait_ready: Callable[..., None]) -> Iterator[httpx.Client]:
    """Another gateway process on the same database: a second replica."""
    process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "enclave.cli", "serve", "--port", str(port)], env=env
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_ready(client, process)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_storage_demo(
    client: httpx.Client,
    env: dict[str, str],
    tenant: str,
    *,
    console: Console,
    step: Step,
    cli: Cli,
    second_port: int,
    wait_ready: Callable[..., None],
) -> None:
    step("S1. Storage: the operator connects the embedded `local` store as the tenant's grant (CLI, audited)")
    connected = cli(
        "storage",
        "connect",
        "--tenant",
        tenant,
        "--backend",
        "local",
        "--bucket",
        "data",
        "--prefix",
        f"tenants/{tenant}",
        "--reason",
        "first run",
        env=env,
    )
    console.print(connected.stdout.strip(), markup=False)
    member_key = cli("apikey", "create", "--tenant", tenant, "--role", "member", "--name", "uploader", env=env)
    member = {"Authorization": f"Bearer {member_key.stdout.strip()}"}
    security_key = cli("apikey", "create", "--tenant", tenant, "--role", "security-admin", "--name", "it-sec", env=env)
    security = {"Authorization": f"Bearer {security_key.stdout.strip()}"}

    step("S2. A member uploads and downloads real bytes through signed URLs (the batch is audited first)")
    body = ("region,quarter,revenue\n" + "".join(f"emea,Q{q},{1000 * q}\n" for q in range(1, 5))).encode()
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    items = [
        {"operation": "put", "key": "reports/q1.csv", "content_type": "text/csv", "content_md5": md5},
        {"operation": "get", "key": "reports/q1.csv"},
    ]
    batch = client.post("/api/v1/storage/urls", headers=member, json={"items": items, "ttl_seconds": 300})
    batch.raise_for_status()
    put, get = batch.json()["urls"]
    console.print(f"batch {batch.json()['batch_id']}: {len(batch.json()['urls'])} URLs, expire {put['expires_at']}")
    uploaded = httpx.put(put["url"], content=body, headers=put["headers"], timeout=30)
    downloaded = httpx.get(get["url"], timeout=30)
    console.print(
        f"PUT {len(body)} bytes -> HTTP {uploaded.status_code}; GET -> HTTP {downloaded.status_code}, "
        f"{len(downloaded.content)} bytes, identical: {downloaded.content == body}"
    )
    escape = client.post(
        "/api/v1/storage/urls", headers=member, json={"items": [{"operation": "get", "key": "../globex/secrets.csv"}]}
    )
    console.print(f"a key outside the prefix: HTTP {escape.status_code} {escape.json()['detail']!r}")

    step("S3. Customer IT revokes: the next request is refused, here and on a second gateway process")
    with _second_gateway(env, second_port, wait_ready) as replica:
        before = replica.post("/api/v1/storage/urls", headers=member, json={"items": [items[1]]})
        console.print(f"second gateway before the revocation: HTTP {before.status_code}")
        revoked = client.post(
            "/api/v1/storage/grants/default/revoke", headers=security, json={"reason": "suspicious download volume"}
        )
        revoked.raise_for_status()
        console.print(f"revoked by security-admin: {revoked.json()['grants'][0]['status']}")
        for name, gateway in (("first", client), ("second", replica)):
            refused = gateway.post("/api/v1/storage/urls", headers=member, json={"items": [items[1]]})
            console.print(f"{name} gateway: HTTP {refused.status_code} {refused.json()['detail']!r}")
        outstanding = httpx.get(get["url"], timeout=30)
        console.print(f"the URL issued before the revocation: HTTP {outstanding.status_code}")
        status = cli("storage", "status", "--tenant", tenant, env=env)
        console.print(status.stdout.rstrip(), markup=False, highlight=False)

        step("S4. Customer IT restores (CLI, audited); both gateways issue again")
        restored = cli("storage", "restore", "--tenant", tenant, "--reason", "volume explained: quarter close", env=env)
        console.print(restored.stdout.strip(), markup=False)
        for name, gateway in (("first", client), ("second", replica)):
            again = gateway.post("/api/v1/storage/urls", headers=member, json={"items": [items[1]]})
            console.print(f"{name} gateway: HTTP {again.status_code}")

    step("S5. The audit log holds every batch and every grant change (keys digested, no signatures)")
    events = client.get("/api/v1/audit/events", headers=security, params={"limit": 200})
    events.raise_for_status()
    for event in events.json()["events"]:
        record = event["record"]
        if record["action"].startswith("storage."):
            details = record["details"]
            summary = (
                f"count={details['count']} ops={details['operations']} keys_sha256={details['keys_sha256'][:16]}…"
                if record["action"] == "storage.urls.issued"
                else (record["reason"] or "")
            )
            console.print(
                f"  #{event['seq']:>3} {record['action']:<26} {record['outcome']:<8} {summary}", highlight=False
            )
