"""Signed-URL benchmarks. Prints figures and ratios against baselines measured in the same run; asserts
nothing. Run from the repository root: `.venv/bin/python -m benchmarks.signing`.

1. S3 URLs/s on one core: Enclave's SigV4 presigner vs boto3's generate_presigned_url on a reused client
   (target >= 10x), with every URL checked byte-identical to boto3's for the same key and time.
2. Azure: Enclave's signer (stored-policy SAS) vs the SDK's generate_blob_sas alone (target >= 1x).
3. GCS: Enclave's V4 signer vs google-cloud-storage's generate_signed_url with the same RSA key (>= 1x).
4. A batch of 1,000 S3 URLs through the HTTP API in-process (API-key authentication, validation, revocation
   check, signing, the audited batch event on MariaDB, JSON): median over 30 batches (target <= 100 ms), and
   its ratio to signing the same 1,000 URLs alone. STS is moto's server (AssumeRole once, then cached).
5. Revocation propagation: `revoke` in this process until a second process (its own database engine and
   Redis client, like a second gateway replica) refuses; median and max over 100 trials (target <= 100 ms).
   Runs on MariaDB and Redis when they answer (the production shape), else says so and skips.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
GCS_KEY = "test_service_account.not-a-test.json"  # Google's published dummy key (vectors/README.md)
KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 -_.~!*'()+,;=:@&$äöü€日本/"


def _keys(count: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    return [
        "tenants/acme/" + "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(8, 40))) for _ in range(count)
    ]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({seconds / count * 1e6:.1f} µs each)"


def _best_of(runs: int, work: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


# -- 1. S3 ------------------------------------------------------------------------------------------
def bench_s3(count: int) -> None:
    import boto3
    from botocore.config import Config

    from storage_connector.s3_urls import S3Location, presign
    from storage_connector.signer import Operation, UrlRequest
    from storage_connector.sigv4 import AwsCredentials, SigV4Presigner

    credentials = AwsCredentials(
        "ASIAEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdzEXAMPLE//token=="
    )
    client = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name="eu-west-1",
    ).client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    keys = _keys(count, "s3")
    requests = [UrlRequest(Operation.GET, key) for key in keys]
    presigner = SigV4Presigner("eu-west-1", "s3")
    location = S3Location("customer-bucket", "eu-west-1")
    expires = NOW + timedelta(seconds=900)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        theirs: list[str] = []

        def boto_all() -> None:
            theirs.clear()
            for key in keys:
                theirs.append(
                    client.generate_presigned_url(
                        "get_object", Params={"Bucket": "customer-bucket", "Key": key}, ExpiresIn=900
                    )
                )

        boto_seconds = _best_of(2, boto_all)
    ours: list[str] = []

    def ours_all() -> None:
        ours.clear()
        ours.extend(
            u.url
            for u in presign(presigner, location, credentials, requests, now=NOW, expires_at=expires, principal=None)
        )

    ours_seconds = _best_of(3, ours_all)
    identical = sum(a == b for a, b in zip(ours, theirs, strict=True))
    print("S3 presigned GET URLs (one core)")
    print(f"  boto3 generate_presigned_url (reused client): {_rate(count, boto_seconds)}")
    print(f"  Enclave SigV4 presigner (batch):              {_rate(count, ours_seconds)}")
    print(f"  ratio: {boto_seconds / ours_seconds:.1f}x (target >= 10x); byte-identical: {identical}/{count}")


# -- 2. Azure -----------------------------------------------------------------------------------------
def bench_azure(count: int) -> None:
    from azure.storage.blob import generate_blob_sas

    from storage_connector.azure import AzureSigner
    from storage_connector.backends import parse_spec
    from storage_connector.grants import Grant
    from storage_connector.signer import Operation, SigningContext, UrlRequest

    account_key = "a2V5LWZvci1iZW5jaG1hcmtzLW9ubHktMzItYnl0ZXM="
    spec = parse_spec(
        {"backend": "azure", "bucket": "acme-data", "azure_account": "acct", "azure_policy_id": "enclave"}
    )
    signer = AzureSigner(Grant.unsaved("acme", spec), account_key=account_key, clock=lambda: NOW)
    keys = _keys(count, "azure")
    requests = [UrlRequest(Operation.GET, key) for key in keys]
    expires = NOW + timedelta(seconds=900)
    context = SigningContext(expires, NOW, "alice@acme.example", uuid.uuid4().hex)

    def sdk() -> None:
        for key in keys:
            generate_blob_sas("acct", "acme-data", key, account_key=account_key, expiry=expires, policy_id="enclave-r")

    sdk_seconds = _best_of(3, sdk)
    ours_seconds = _best_of(3, lambda: signer.sign(requests, context))
    print("Azure SAS URLs (stored access policy)")
    print(f"  azure-storage-blob generate_blob_sas alone:   {_rate(count, sdk_seconds)}")
    print(f"  Enclave signer (SAS + URL + headers):         {_rate(count, ours_seconds)}")
    print(f"  ratio: {sdk_seconds / ours_seconds:.2f}x (target >= 1x)")


# -- 3. GCS -------------------------------------------------------------------------------------------
def bench_gcs(count: int) -> None:
    from google.cloud import storage
    from google.oauth2 import service_account

    from storage_connector.backends import parse_spec
    from storage_connector.gcs import GcsServiceAccount, GcsSigner
    from storage_connector.grants import Grant
    from storage_connector.signer import Operation, SigningContext, UrlRequest

    info = json.loads((ROOT / "tests" / "storage_connector" / "vectors" / "gcs-v4" / GCS_KEY).read_text())
    credentials = service_account.Credentials.from_service_account_info(info)
    bucket = storage.Client(project=info["project_id"], credentials=credentials).bucket("acme-data")
    signer = GcsSigner(
        Grant.unsaved("acme", parse_spec({"backend": "gcs", "bucket": "acme-data"})), GcsServiceAccount(info)
    )
    keys = _keys(count, "gcs")
    requests = [UrlRequest(Operation.GET, key) for key in keys]
    context = SigningContext(NOW + timedelta(seconds=900), NOW, "alice@acme.example", uuid.uuid4().hex)

    def library() -> None:
        for key in keys:
            bucket.blob(key).generate_signed_url(version="v4", expiration=timedelta(seconds=900), method="GET")

    library_seconds = _best_of(3, library)
    ours_seconds = _best_of(3, lambda: signer.sign(requests, context))
    print("GCS V4 signed URLs (RSA-2048 service-account key)")
    print(f"  google-cloud-storage generate_signed_url:     {_rate(count, library_seconds)}")
    print(f"  Enclave V4 signer:                            {_rate(count, ours_seconds)}")
    print(f"  ratio: {library_seconds / ours_seconds:.2f}x (target >= 1x)")


# -- 4. a batch through the HTTP API ----------------------------------------------------------------------
def bench_http_batch(batches: int) -> None:
    import boto3
    import pymysql
    from fastapi.testclient import TestClient

    from audit.events import SYSTEM_ACTOR
    from auth.apikeys import create_api_key
    from auth.roles import Role
    from enclave.app import create_app
    from enclave.db import transaction
    from enclave.runtime import Runtime
    from enclave.settings import Settings
    from storage_connector.backends import parse_spec
    from storage_connector.factory import Signers
    from storage_connector.platform import PlatformCredentials
    from storage_connector.revocation import open_grant_states
    from storage_connector.service import StorageService
    from storage_connector.signer import Operation, SigningContext, UrlRequest
    from tests.storage_connector.servers import moto_server

    try:
        admin = pymysql.connect(host="127.0.0.1", user="root", password="", connect_timeout=3)
    except Exception as exc:
        print(f"HTTP batch: skipped, MariaDB not answering ({type(exc).__name__})")
        return
    name = f"enclave_bench_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    os.environ.update(AWS_ACCESS_KEY_ID="platform", AWS_SECRET_ACCESS_KEY="platform", AWS_DEFAULT_REGION="eu-west-1")
    settings = Settings(
        database_url=f"mysql+pymysql://root@127.0.0.1:3306/{name}",
        data_dir=Path(os.environ.get("TMPDIR", "/tmp")) / name,
        tenant="acme",
    )
    runtime = Runtime.open(settings)
    try:
        with moto_server(None) as endpoint:
            sts = lambda _grant: boto3.client("sts", region_name="eu-west-1", endpoint_url=endpoint)  # noqa: E731
            signers = Signers(PlatformCredentials(sts_client=sts))
            service = StorageService(
                runtime.sessions,
                runtime.audit,
                runtime.appender,
                open_grant_states(runtime.sessions, settings.cache_url),
                signers,
            )
            spec = parse_spec(
                {
                    "backend": "s3",
                    "bucket": "acme-data",
                    "prefix": "tenants/acme",
                    "region": "eu-west-1",
                    "role_arn": "arn:aws:iam::123456789012:role/enclave-access",
                    "external_id": "acme-bench-1",
                }
            )
            grant = service.connect(SYSTEM_ACTOR, "acme", spec, "benchmark")
            with transaction(runtime.sessions) as session:
                key = create_api_key(
                    session,
                    runtime.audit,
                    SYSTEM_ACTOR,
                    tenant_id="acme",
                    role=Role.MEMBER,
                    name="bench",
                    ttl=timedelta(days=1),
                    max_ttl=timedelta(days=1),
                ).secret
            app = create_app(runtime)
            app.state.storage = service
            keys = [f"reports/{i % 37}/file {i:04d} (ü).csv" for i in range(1000)]
            body = {"items": [{"operation": "get", "key": k} for k in keys]}
            headers = {"Authorization": f"Bearer {key}"}
            timings: list[float] = []
            with TestClient(app) as client:
                for _ in range(batches + 3):
                    start = time.perf_counter()
                    response = client.post("/api/v1/storage/urls", headers=headers, json=body)
                    timings.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                    assert len(response.json()["urls"]) == 1000
            timings = timings[3:]  # warm-up: AssumeRole, caches
            signer = signers.for_grant(grant)
            now = datetime.now(UTC)
            requests = [UrlRequest(Operation.GET, f"tenants/acme/{k}") for k in keys]
            context = SigningContext(now + timedelta(minutes=15), now, "member", uuid.uuid4().hex)
            sign_seconds = statistics.median(_best_of(1, lambda: signer.sign(requests, context)) for _ in range(10))
            median = statistics.median(timings)
            print(f"1,000 S3 URLs through the HTTP API (auth + audit on MariaDB + JSON), {batches} batches")
            print(f"  median {median * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms (target median <= 100 ms)")
            print(
                f"  signing the same 1,000 URLs alone: {sign_seconds * 1000:.1f} ms; ratio {median / sign_seconds:.1f}x"
            )
    finally:
        runtime.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


# -- 5. revocation propagation --------------------------------------------------------------------------
def _replica(database_url: str, redis_url: str, grant_id: str, commands: Any, events: Any) -> None:
    """A second gateway process: on each "watch" it polls the grant's status the way issuance checks it
    and reports the wall-clock time at which it first saw the wanted state."""
    import redis

    from enclave.db import create_db_engine, session_factory
    from storage_connector.grants import GrantStatus
    from storage_connector.revocation import GrantStates

    states = GrantStates(session_factory(create_db_engine(database_url)), redis.Redis.from_url(redis_url))
    while True:
        wanted = commands.get()
        if wanted is None:
            return
        target = GrantStatus(wanted)
        events.put("ready")
        while states.status(grant_id) is not target:
            pass
        events.put(time.time())


def bench_revocation(trials: int) -> None:
    import pymysql
    import redis

    from audit.events import SYSTEM_ACTOR
    from enclave.runtime import Runtime
    from enclave.settings import Settings
    from enclave.storage_cli import open_storage_service
    from storage_connector.backends import parse_spec

    redis_url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(redis_url).ping()
        admin = pymysql.connect(host="127.0.0.1", user="root", password="", connect_timeout=3)
    except Exception as exc:
        print(f"revocation propagation: skipped, MariaDB or Redis not answering ({type(exc).__name__})")
        return
    name = f"enclave_bench_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    database_url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    runtime = Runtime.open(Settings(database_url=database_url, cache_url=redis_url, data_dir=data_dir, tenant="acme"))
    context = multiprocessing.get_context("spawn")
    commands, events = context.Queue(), context.Queue()
    try:
        service = open_storage_service(runtime)
        grant = service.connect(SYSTEM_ACTOR, "acme", parse_spec({"backend": "local", "bucket": "data"}), "benchmark")
        worker = context.Process(target=_replica, args=(database_url, redis_url, grant.id, commands, events))
        worker.start()
        delays: list[float] = []
        for _ in range(trials):
            commands.put("revoked")
            events.get(timeout=30)
            start = time.time()
            service.revoke(SYSTEM_ACTOR, "acme", grant.id, "benchmark")
            delays.append(events.get(timeout=30) - start)
            commands.put("active")
            events.get(timeout=30)
            service.restore(SYSTEM_ACTOR, "acme", grant.id, "benchmark")
            events.get(timeout=30)
        commands.put(None)
        worker.join(timeout=30)
        delays_ms = sorted(d * 1000 for d in delays)
        print(f"Revocation propagation to a second process (MariaDB + Redis), {trials} trials")
        print("  from calling revoke (commit + audit + Redis) until the other process refuses:")
        print(
            f"  median {statistics.median(delays_ms):.1f} ms, p95 {delays_ms[int(0.95 * len(delays_ms)) - 1]:.1f} ms, "
            f"max {delays_ms[-1]:.1f} ms (target <= 100 ms)"
        )
    finally:
        runtime.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=10_000, help="URLs per S3 / Azure measurement")
    parser.add_argument("--gcs-urls", type=int, default=1_000, help="URLs per GCS measurement (RSA is slow)")
    parser.add_argument("--batches", type=int, default=30, help="HTTP batches of 1,000 URLs")
    parser.add_argument("--trials", type=int, default=100, help="revocation trials")
    args = parser.parse_args()
    bench_s3(args.urls)
    bench_azure(args.urls)
    bench_gcs(args.gcs_urls)
    bench_http_batch(args.batches)
    bench_revocation(args.trials)


if __name__ == "__main__":
    main()
