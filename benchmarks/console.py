"""Console benchmarks: server time per console page, in process (the whole ASGI application through
Starlette's TestClient: authentication of the session cookie, the use case, its SQL, the template), on
MariaDB with Redis, for a tenant with 10,000 users and 1,000,000 audit records — against the same pages of a
tenant with 100 users and 1,000 records, and the /account page, measured in the same run. Prints p50 / p95 /
p99 per page and the ratios; asserts nothing. Run from the repository root: `.venv/bin/python -m
benchmarks.console` (`make bench` runs it).

The records are a real chain (each linked to the one before, the Merkle tree's tiles stored, the head row
written) loaded with the audit store's bulk insert, so the gateway appends after them exactly as in
production (every audit page view appends its `audit.queried` record)."""

from __future__ import annotations

import argparse
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import insert

from audit.checkpoints import checkpoint_bytes, sign_checkpoint
from audit.events import SYSTEM_ACTOR, Actor, ActorKind, AuditEvent, Outcome, empty_head, head_after, link
from audit.merkle import Frontier, leaf_hash
from audit.signing import generate_private_key_pem, load_private_key
from audit.store.bulk_insert import insert_records
from audit.store.tables import audit_heads
from audit.store.tree import TILE_LEVEL, insert_nodes
from auth.models import ApiKey, User
from auth.roles import Role
from auth.sessions_authn import SESSION_COOKIE
from auth.sso.config import SignInPolicy
from auth.users import create_user
from benchmarks.audit import Database
from benchmarks.auth import percentiles
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from enclave.settings import Settings

TENANT = "acme"
PUBLIC_URL = "https://acme.example.com"
ADMIN_EMAIL = "it@acme.example"
ACTIONS = (  # what a tenant's log is mostly made of, and a rarer one to filter for
    ("storage.urls.issued", 60),
    ("auth.login.succeeded", 20),
    ("audit.queried", 15),
    ("auth.user.role.changed", 1),
)
BATCH = 5000


@dataclass(frozen=True)
class Tenant:
    users: int
    records: int


def user_email(i: int) -> str:
    return f"user{i:05d}@acme.example"


def seed_audit(db: Database, count: int, actors: list[str], key: Ed25519PrivateKey) -> None:
    """`count` chained records for the tenant, as the store would have written them: varied actions, actors
    (the tenant's users) and outcomes, one a second over the last `count` seconds."""
    head = empty_head(TENANT)
    frontier = Frontier()
    weighted = [name for name, weight in ACTIONS for _ in range(weight)]
    start = datetime.now(UTC) - timedelta(seconds=count)
    batch = []
    with db.engine.begin() as connection:
        for i in range(count):
            actor = Actor(ActorKind.USER, actors[i % len(actors)], email=user_email(i % len(actors)))
            action = weighted[i % len(weighted)]
            event = AuditEvent(
                tenant=TENANT,
                actor=actor,
                action=action,
                outcome=Outcome.DENIED if i % 97 == 0 else Outcome.SUCCESS,
                target=f"storage-grant:default/obj-{i}.bin",
                details={"count": 8, "operations": {"get": 8}, "grant": "g0", "ttl_seconds": 900},
            )
            record = link(head, event, start + timedelta(seconds=i))
            head = head_after(record)
            batch.append(record)
            insert_nodes(
                connection, TENANT, frontier.append(leaf_hash(bytes.fromhex(record.hash)), keep_level=TILE_LEVEL)
            )
            if len(batch) == BATCH:
                insert_records(connection, batch)
                batch.clear()
        insert_records(connection, batch)
        connection.execute(
            insert(audit_heads),
            [
                {
                    "tenant_id": TENANT,
                    "seq": head.seq,
                    "hash": head.hash,
                    "checkpoint_seq": 0,
                    "checkpoint_at": datetime.now(UTC),
                    "tree": frontier.to_bytes(),
                    "signed_head": checkpoint_bytes(
                        sign_checkpoint(
                            key,
                            kind="checkpoint",
                            tenant=TENANT,
                            seq=head.seq,
                            head_hash=head.hash,
                            root=frontier.root().hex(),
                            time=datetime.now(UTC),
                        )
                    ),
                }
            ],
        )


def seed_users(runtime: Runtime, count: int) -> list[str]:
    """`count` users (bulk-inserted: the same rows `create_user` writes) and one API key each for a tenth."""
    now = datetime.now(UTC)
    ids = [secrets.token_hex(16) for _ in range(count)]
    with transaction(runtime.sessions) as session:
        session.execute(
            insert(User),
            [
                {
                    "id": ids[i],
                    "tenant_id": TENANT,
                    "email": user_email(i),
                    "display_name": f"Person {i:05d}",
                    "role": Role.MEMBER.value,
                    "created_at": now,
                    "first_sign_in_at": now,
                }
                for i in range(count)
            ],
        )
        session.execute(
            insert(ApiKey),
            [
                {
                    "id": secrets.token_hex(6),
                    "tenant_id": TENANT,
                    "name": f"ci-{i}",
                    "role": Role.VIEWER.value,
                    "secret_hash": secrets.token_hex(32),
                    "created_by": ids[i],
                    "created_at": now,
                    "expires_at": now + timedelta(days=90),
                }
                for i in range(0, count, 10)
            ],
        )
    return ids


def admin_session(services: Services) -> str:
    """A signed-in customer-IT session's cookie value (created as a sign-in creates it, without the provider)."""
    runtime = services.runtime
    with transaction(runtime.sessions) as session:
        user = create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email=ADMIN_EMAIL, role=Role.ADMIN)
        token, _ = services.session_store.create(session, user, SignInPolicy())
    return token


@dataclass(frozen=True)
class Figures:
    p50: float
    p95: float
    p99: float


def measure(client: TestClient, path: str, count: int) -> Figures:
    """Server time of `GET path` in milliseconds over `count` requests, after a warm-up."""
    for _ in range(min(20, count)):
        assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1e3)
        assert response.status_code == 200, (path, response.status_code)
    return Figures(*percentiles(samples))


def pages(ids: list[str], tenant: Tenant) -> list[tuple[str, str]]:
    """(label, path) of each page measured; the deep pages start half-way through."""
    middle = user_email(tenant.users // 2)
    last_hour = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    return [
        ("/account (baseline)", "/account"),
        ("users, first page", "/admin/users"),
        ("users, half-way (keyset)", f"/admin/users?after={middle}"),
        ("users, search by name", "/admin/users?q=person 0004"),
        ("audit, newest", "/admin/audit"),
        ("audit, half-way (keyset)", f"/admin/audit?before={tenant.records // 2}"),
        ("audit, filter action (rare)", "/admin/audit?action=auth.user.role.changed"),
        ("audit, filter outcome", "/admin/audit?outcome=denied"),
        ("audit, filter actor", f"/admin/audit?actor={ids[7]}"),
        ("audit, filter last hour", f"/admin/audit?since={last_hour}"),
        ("storage (grants + URL batches)", "/admin/storage"),
        ("API keys", "/admin/api-keys"),
        ("identity providers", "/admin/identity"),
    ]


def run_tenant(tenant: Tenant, count: int) -> dict[str, Figures]:
    """Seed a fresh MariaDB database for `tenant`, serve it in process and time each page."""
    db = Database()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            started = time.perf_counter()
            actors = [secrets.token_hex(16) for _ in range(tenant.users)]
            pem = generate_private_key_pem()
            seed_audit(db, tenant.records, actors, load_private_key(pem))
            loaded = time.perf_counter() - started
            settings = Settings(
                database_url=db.url,
                data_dir=Path(data_dir),
                tenant=TENANT,
                public_url=PUBLIC_URL,
                cache_url="redis://127.0.0.1:6379/0",
                audit_signing_key=pem,
            )
            runtime = Runtime.open(settings)
            try:
                ids = seed_users(runtime, tenant.users)
                services = Services.build(runtime)
                cookie = admin_session(services)
                print(
                    f"\n== {tenant.users:,} users, {tenant.records:,} audit records "
                    f"(audit records loaded in {loaded:.1f} s) =="
                )
                figures: dict[str, Figures] = {}
                with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
                    client.cookies.set(SESSION_COOKIE, cookie, domain="acme.example.com")
                    for label, path in pages(ids, tenant):
                        figures[label] = measure(client, path, count)
                        f = figures[label]
                        print(f"{label:34} p50 {f.p50:7.2f} ms   p95 {f.p95:7.2f} ms   p99 {f.p99:7.2f} ms")
                return figures
            finally:
                runtime.close()
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()
    print(f"uptime: {uptime}")
    small = run_tenant(Tenant(100, 1_000), args.requests)
    large = run_tenant(Tenant(args.users, args.records), args.requests)
    print(f"\n== ratios: {args.users:,} users / {args.records:,} records against 100 users / 1,000 records ==")
    for label, figures in large.items():
        base = small[label]
        print(
            f"{label:34} p50 x{figures.p50 / base.p50:5.2f}   p99 x{figures.p99 / base.p99:5.2f}   "
            f"(against /account in the same database: p50 x{figures.p50 / large['/account (baseline)'].p50:5.2f})"
        )


if __name__ == "__main__":
    main()
