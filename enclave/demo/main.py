"""The README demo: everything on embedded defaults, nothing but this machine.

Starts the gateway on SQLite, creates API keys, records audit events through the API (including a refused
request), exports the log over HTTP, verifies the export offline with only the public key, shows that a
tampered copy fails verification, moves real bytes through signed URLs and revokes and restores access
(enclave/demo/storage.py), syncs the audit log into the tenant's bucket and checks it there, then finds a
rewritten segment (enclave/demo/audit_sync.py), drives the console in headless Chromium as customer IT and as
an end user (screenshots under .enclave/demo/console/), and previews a tenant stack on each cloud offline.
Run it with `make demo` (or `.venv/bin/python -m enclave.demo`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx

from enclave.demo.audit_sync import run_audit_sync_demo
from enclave.demo.common import DEMO_DIR, console, free_port, run_enclave, step, wait_ready
from enclave.demo.console import run_console_demo
from enclave.demo.sso import local_provider, run_sso_demo
from enclave.demo.storage import run_storage_demo

TENANT = "acme"


def main() -> None:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "ENCLAVE_DATA_DIR": str(DEMO_DIR),
        "ENCLAVE_TENANT": TENANT,
        "ENCLAVE_PUBLIC_URL": f"http://127.0.0.1:{port}",  # sign-in redirect URIs derive from it
        "ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS": "true",  # the demo's provider is on plain-http loopback
        "ENCLAVE_LOG_LEVEL": "WARNING",
        "ENCLAVE_AUDIT_CHECKPOINT_EVERY": "5",
        "COLUMNS": str(console.width),  # the CLI's tables, captured here, get the same width
    }
    env.pop("ENCLAVE_DATABASE_URL", None)

    step("1. Start the gateway (dedicated to tenant acme, SQLite, in-process cache)")
    gateway = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "enclave.cli", "serve", "--port", str(port)], env=env
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_ready(client, gateway)
            console.print(f"gateway ready on http://127.0.0.1:{port}  (OpenAPI at /openapi.json)")
            run_api_demo(client, env)
            with local_provider(env) as provider:
                run_sso_demo(client, env, TENANT, provider)
                run_storage_demo(
                    client,
                    env,
                    TENANT,
                    console=console,
                    step=step,
                    cli=run_enclave,
                    second_port=free_port(),
                    wait_ready=wait_ready,
                )
                run_audit_sync_demo(client, env, TENANT)
                run_console_demo(env["ENCLAVE_PUBLIC_URL"], env, TENANT, provider)
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    run_stack_demo(env)
    step("Done")
    console.print(f"Everything the demo wrote is under {DEMO_DIR}/")


def run_api_demo(client: httpx.Client, env: dict[str, str]) -> None:
    step("2. Customer IT gets an admin API key from the operator (CLI; the secret is shown once)")
    admin_key = run_enclave("apikey", "create", "--tenant", TENANT, "--role", "admin", "--name", "it-admin", env=env)
    admin = {"Authorization": f"Bearer {admin_key.stdout.strip()}"}
    console.print("admin key created (secret not echoed here)")

    step("3. The admin creates an auditor key over the API, then revokes a spare key")
    auditor = client.post("/api/v1/api-keys", headers=admin, json={"name": "auditor", "role": "auditor"})
    auditor.raise_for_status()
    auditor_headers = {"Authorization": f"Bearer {auditor.json()['secret']}"}
    spare = client.post("/api/v1/api-keys", headers=admin, json={"name": "spare", "role": "viewer"}).json()
    client.delete(f"/api/v1/api-keys/{spare['id']}", headers=admin).raise_for_status()
    refused = client.get("/api/v1/audit/events", headers={"Authorization": f"Bearer {spare['secret']}"})
    console.print(f"the revoked key is refused: HTTP {refused.status_code} {refused.json()['detail']!r}")

    step("4. The auditor reads the audit trail")
    page = client.get("/api/v1/audit/events", headers=auditor_headers, params={"limit": 50})
    page.raise_for_status()
    for event in page.json()["events"]:
        record = event["record"]
        console.print(
            f"  #{event['seq']:>3} {record['time']}  {record['action']:<26} {record['outcome']:<8} "
            f"by {record['actor']['kind']}:{record['actor']['id']}",
            highlight=False,
        )

    step("5. Export over HTTP and verify offline with only the public key")
    export_file = DEMO_DIR / "acme-audit.jsonl"
    with client.stream("GET", "/api/v1/audit/export", headers=auditor_headers) as response:
        response.raise_for_status()
        with export_file.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
    key_file = DEMO_DIR / "audit-public-key.pem"
    key_file.write_text(client.get("/api/v1/audit/public-key").text)
    verified = run_enclave("audit", "verify", str(export_file), "--public-key", str(key_file), env=env)
    console.print(f"$ enclave audit verify {export_file} --public-key {key_file}\n{verified.stdout.strip()}")

    step("6. Tamper with one record: verification says exactly what and where")
    lines = export_file.read_bytes().splitlines(keepends=True)
    tampered_file = DEMO_DIR / "acme-audit-tampered.jsonl"
    target = next(i for i, line in enumerate(lines) if b'"auth.apikey.revoked"' in line)
    lines[target] = lines[target].replace(b'"auth.apikey.revoked"', b'"auth.apikey.created"')
    tampered_file.write_bytes(b"".join(lines))
    failed = run_enclave("audit", "verify", str(tampered_file), "--public-key", str(key_file), env=env, check=False)
    console.print(f"exit code {failed.returncode}\n{failed.stderr.strip()}", highlight=False)

    step("7. CSV and OCSF exports for the SIEM (CLI, with a progress bar)")
    for fmt in ("csv", "ocsf"):
        out = DEMO_DIR / f"acme-audit.{fmt}"
        result = run_enclave("audit", "export", "--tenant", TENANT, "--format", fmt, "--out", str(out), env=env)
        console.print(result.stdout.strip())


def run_stack_demo(env: dict[str, str]) -> None:
    step("9. Tenant stacks: init and offline preview on AWS, GCP and Azure (Pulumi mocks, no cloud account)")
    stacks = DEMO_DIR / "stacks"
    stacks.mkdir()
    tenants = [
        ("acme", "aws", "eu-west-1", []),
        ("globex", "gcp", "europe-west1", ["--gcp-project", "globex-enclave-prod"]),
        ("initech", "azure", "westeurope", []),
    ]
    for name, cloud, region, extra in tenants:
        location = ("--cloud", cloud, "--region", region, "--dir", str(stacks))
        run_enclave("stack", "init", "--tenant", name, *location, *extra, env=env)
        console.print(f"wrote {stacks}/Pulumi.{name}.yaml")
    result = run_enclave("stack", "preview", "--all", "--dir", str(stacks), env=env, check=False)
    console.print(result.stdout.rstrip(), markup=False, highlight=False)
    if result.returncode != 0:
        console.print(result.stderr, markup=False)
        raise SystemExit("the offline preview reported mandatory policy violations")


if __name__ == "__main__":
    main()
