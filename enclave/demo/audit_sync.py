"""The demo's audit-sync part: the tenant's audit log synced into its own bucket (the local store grant the
storage part connected), one event proven without the whole log, the synced history checked through the grant
and, as the customer would, with the standalone script on a downloaded copy; then one synced segment rewritten
on disk, which both checks name."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from enclave.demo.common import DEMO_DIR, console, run_enclave, step

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_audit_bucket.py"


def _sync_now(env: dict[str, str], tenant: str) -> str:
    """`enclave audit sync run`; the serving gateway's own job may hold the target for a moment: try again."""
    for _ in range(10):
        result = run_enclave("audit", "sync", "run", "--tenant", tenant, "--grant", "default", env=env, check=False)
        if result.returncode == 0:
            return result.stdout.strip()
        if "is running" not in result.stderr:
            console.print(result.stderr, markup=False)
            raise SystemExit("the audit sync failed")
        time.sleep(0.5)
    raise SystemExit("the audit sync stayed busy")


def _customer_check(copy: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the repository's own script, as the customer runs it
        [sys.executable, str(SCRIPT), str(copy), "--public-key", str(key_file)],
        capture_output=True,
        text=True,
        check=False,
    )


def run_audit_sync_demo(client: httpx.Client, env: dict[str, str], tenant: str) -> None:
    key_file = DEMO_DIR / "audit-public-key.pem"
    key_file.write_text(client.get("/api/v1/audit/public-key").text)

    step("A1. The audit log syncs into the tenant's own bucket; one event is proven without the whole log")
    enabled = run_enclave("audit", "sync", "enable", "--tenant", tenant, "--grant", "default", env=env)
    console.print(enabled.stdout.strip(), markup=False)
    console.print(_sync_now(env, tenant), markup=False)
    proof = DEMO_DIR / "inclusion-proof.json"
    proof.write_text(run_enclave("audit", "prove", "--tenant", tenant, "--inclusion", "2", env=env).stdout)
    checked = run_enclave("audit", "verify", "--proof", str(proof), "--public-key", str(key_file), env=env)
    console.print(f"$ enclave audit verify --proof {proof} --public-key {key_file}\n{checked.stdout.strip()}")

    step("A2. The synced history verifies through the grant, and as the customer checks it (no Enclave)")
    verify = ("audit", "verify-bucket", "--tenant", tenant, "--grant", "default", "--public-key", str(key_file))
    console.print(run_enclave(*verify, env=env).stdout.strip(), markup=False)
    synced = DEMO_DIR / "objects" / "data" / "tenants" / tenant / "enclave-audit"
    copy = DEMO_DIR / "customer-audit-copy"  # what `aws s3 sync s3://.../enclave-audit/ ./audit` downloads
    shutil.copytree(synced, copy)
    if SCRIPT.is_file():
        customer = _customer_check(copy, key_file)
        console.print(f"$ python3 verify_audit_bucket.py {copy} --public-key {key_file}", markup=False)
        console.print(customer.stdout.strip(), markup=False)
        if customer.returncode != 0:
            raise SystemExit("the customer's check failed on an honest bucket")

    step("A3. Rewrite one synced segment in the bucket: both checks name the object")
    segment = sorted((synced / "segments").iterdir())[0]
    segment.write_bytes(segment.read_bytes().replace(b'"outcome":"success"', b'"outcome":"denied"', 1))
    failed = run_enclave(*verify, env=env, check=False)
    console.print(f"exit code {failed.returncode}\n{failed.stderr.strip()}", markup=False)
    if failed.returncode != 1:
        raise SystemExit("verify-bucket accepted a rewritten segment")
    if SCRIPT.is_file():
        tampered = copy.parent / "customer-audit-copy-tampered"
        shutil.copytree(synced, tampered)
        customer = _customer_check(tampered, key_file)
        console.print(f"customer's script: exit code {customer.returncode}\n{customer.stderr.strip()}", markup=False)
        if customer.returncode != 1:
            raise SystemExit("the customer's check accepted a rewritten segment")
