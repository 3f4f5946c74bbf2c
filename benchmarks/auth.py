"""Sign-in benchmarks. Prints per-operation figures and ratios against baselines measured in the same run;
asserts nothing. Run from the repository root: `.venv/bin/python -m benchmarks.auth`.

1. ID-token validation (RS256, the full check of auth.sso.idtoken) with the provider's JWKS cached, against
   the same validation fetching the JWKS over HTTP (a loopback server) every time. Target p99 <= 1 ms.
2. Session lookup (auth.sessions.SessionStore.lookup, a live session): on the embedded default (SQLite, no
   shared cache: the database is read every time) and with Redis holding hot copies (the production set-up),
   against the same lookup without the hot copy on the same database. Target p99 <= 1 ms each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from audit.events import SYSTEM_ACTOR
from auth.roles import Role
from auth.sessions import SessionStore
from auth.sso.config import SignInPolicy
from auth.sso.idtoken import Expected, validate_id_token
from auth.sso.jwks import JwksCache
from auth.users import create_user
from enclave.cache import RedisCache
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Settings

ISSUER = "https://idp.example.com"
CLIENT_ID = "enclave-gateway"
NONCE = "n-0S6_WzA2Mj"


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1], ordered[int(len(ordered) * 0.99) - 1]


def measure(operation: Callable[[], object], count: int) -> tuple[float, float, float]:
    """(p50, p95, p99) in microseconds over `count` calls, after a short warm-up."""
    for _ in range(min(200, count)):
        operation()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1e6)
    return percentiles(samples)


def jwks_server(document: dict[str, Any]) -> tuple[ThreadingHTTPServer, str]:
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return None

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/jwks"


def bench_id_tokens(count: int) -> list[tuple[str, float, float, float]]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}, private=True)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "248289761001", "iat": now, "exp": now + 3600, "nonce": NONCE}
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
    server, url = jwks_server({"keys": [key.as_dict(private=False)]})
    http = httpx.Client()
    expected = Expected(ISSUER, CLIENT_ID, NONCE)
    try:
        cached = JwksCache(lambda: http.get(url).json())
        fresh: Callable[[], object] = lambda: validate_id_token(  # noqa: E731
            token, JwksCache(lambda: http.get(url).json()), expected
        )
        results = [
            ("ID token, JWKS cached", *measure(lambda: validate_id_token(token, cached, expected), count)),
            ("ID token, JWKS fetched every time (baseline)", *measure(fresh, max(count // 10, 200))),
        ]
    finally:
        http.close()
        server.shutdown()
    return results


def bench_sessions(count: int, redis_url: str) -> list[tuple[str, float, float, float]]:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), tenant="acme")  # the embedded default: SQLite
        runtime = Runtime.open(settings)
        try:
            with transaction(runtime.sessions) as session:
                user = create_user(
                    session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email="ann@acme.test", role=Role.MEMBER
                )
            database_only = SessionStore(runtime.sessions)
            redis = RedisCache(redis_url)
            redis.ping()
            hot = SessionStore(runtime.sessions, redis)
            with transaction(runtime.sessions) as session:
                token, _ = database_only.create(session, user, SignInPolicy(), provider_id=None)
            assert database_only.lookup(token) is not None
            results = [
                ("session lookup, SQLite (embedded default)", *measure(lambda: database_only.lookup(token), count)),
                ("session lookup, Redis hot copy (production)", *measure(lambda: hot.lookup(token), count)),
            ]
            redis.close()
        finally:
            runtime.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="operations per measurement")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    rows = bench_id_tokens(args.count) + bench_sessions(args.count, args.redis)
    width = max(len(name) for name, *_ in rows)
    print(f"{'operation'.ljust(width)}  {'p50 µs':>9}  {'p95 µs':>9}  {'p99 µs':>9}  p99 <= 1 ms")
    for name, p50, p95, p99 in rows:
        print(f"{name.ljust(width)}  {p50:9.1f}  {p95:9.1f}  {p99:9.1f}  {'yes' if p99 <= 1000 else 'NO'}")
    cached, fetched = rows[0], rows[1]
    print(
        f"cached JWKS vs fetching every time: {fetched[1] / cached[1]:.1f}x faster at p50, "
        f"{fetched[3] / cached[3]:.1f}x at p99"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
