"""Start the node OpenID Providers (the faulty and the managed ones here, the development one the demo also
uses) on a free loopback port, and stop them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
DEV_PROVIDER = ROOT / "enclave" / "demo" / "dev_oidc_provider.mjs"  # also what the demo runs


@contextmanager
def node_provider(script: str, *args: str) -> Iterator[str]:
    """Run `script` with `args`; yield the issuer it prints once it listens."""
    process = subprocess.Popen(
        ["node", str(HERE / script if "/" not in script else script), *args],
        cwd=ROOT,  # node_modules lives at the repository root
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"{script} did not start (exit code {process.poll()})")
        yield line.split(" ", 1)[1].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def faulty_provider(mode: str, client_id: str, client_secret: str) -> Iterator[str]:
    with node_provider("faulty_provider.mjs", mode, client_id, client_secret) as issuer:
        yield issuer


@contextmanager
def real_provider(
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    groups: dict[str, list[str]] | None = None,
) -> Iterator[str]:
    """node `oidc-provider` 8.8.1 with one confidential client."""
    config = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris or [],
        "groups": groups or {},
    }
    with node_provider(str(DEV_PROVIDER), json.dumps(config)) as issuer:
        yield issuer


@contextmanager
def managed_provider(
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    *,
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    refresh_tokens: bool = False,
    accounts: dict[str, dict[str, object]] | None = None,
) -> Iterator[str]:
    """node `oidc-provider` 8.8.1 whose accounts a test changes while sessions live (managed_provider.mjs):
    refresh tokens, back-channel logout, RFC 9207 `iss`."""
    config = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris or [],
        "backchannel_logout_uri": backchannel_logout_uri,
        "refresh_tokens": refresh_tokens,
        "accounts": accounts or {},
    }
    with node_provider("managed_provider.mjs", json.dumps(config)) as issuer:
        yield issuer
