"""`make console`: the console to click through yourself, on embedded defaults.

Starts a gateway for tenant acme (SQLite and the embedded `local` store under .enclave/console/) and the local
OpenID Provider (node `oidc-provider`), registers the provider with just-in-time users from acme.test, invites
customer IT as an admin, connects the local store as the tenant's grant, and waits until Ctrl-C. Sign in as
it@acme.test (customer IT) or any other name@acme.test (an end user); the provider's development login takes
any password. Browsers keep the gateway's Secure cookies on http://127.0.0.1 (a loopback origin counts as
secure), so no certificate is needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from enclave.demo.common import console, run_enclave, wait_ready
from enclave.demo.sso import CLIENT_ID, local_provider

TENANT = "acme"
CUSTOMER_IT = "it@acme.test"
DATA_DIR = Path(".enclave/console")


def configure(env: dict[str, str], provider_env: dict[str, str], issuer: str) -> None:
    oidc = ("--kind", "oidc", "--issuer", issuer, "--client-id", CLIENT_ID, "--client-secret-env", "DEMO_OIDC_SECRET")
    run_enclave("sso", "add", "local", "--tenant", TENANT, *oidc, env=provider_env)
    run_enclave("sso", "policy", "--tenant", TENANT, "--domain", "acme.test", "--jit", env=env)
    run_enclave("users", "add", CUSTOMER_IT, "--tenant", TENANT, "--role", "admin", env=env)
    grant = ("--backend", "local", "--bucket", "data", "--prefix", f"tenants/{TENANT}")
    run_enclave("storage", "connect", "--tenant", TENANT, *grant, "--reason", "console demo", env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the gateway's port on 127.0.0.1 (default 8000)")
    port = parser.parse_args().port
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(parents=True)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ENCLAVE_DATA_DIR": str(DATA_DIR),
        "ENCLAVE_TENANT": TENANT,
        "ENCLAVE_PUBLIC_URL": base,
        "ENCLAVE_SSO_ALLOW_INSECURE_LOOPBACK_ISSUERS": "true",  # the local provider speaks plain http on loopback
        "ENCLAVE_LOG_LEVEL": "WARNING",
    }
    env.pop("ENCLAVE_DATABASE_URL", None)
    with local_provider(env) as provider:
        gateway = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "enclave.cli", "serve", "--port", str(port)], env=env
        )
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                wait_ready(client, gateway)
            configure(env, provider.env, provider.issuer)
            console.print(
                f"\nThe console is at [bold]{base}/[/]\n"
                f"  customer IT: sign in as {CUSTOMER_IT} (admin)\n"
                f"  end user:    sign in as any other name@acme.test (created at first sign-in)\n"
                f"  the provider ({provider.issuer}) takes any password.  Ctrl-C stops both.",
                highlight=False,
            )
            gateway.wait()
        except KeyboardInterrupt:
            pass
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)


if __name__ == "__main__":
    main()
