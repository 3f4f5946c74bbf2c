"""The fast SigV4 presigner against botocore (byte-identical URLs) and the published query-auth vectors."""

from __future__ import annotations

import functools
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote, unquote

import boto3
import pytest
from botocore.config import Config

from storage_connector.aws_partitions import partitions
from storage_connector.s3_urls import USER_PARAMETER, S3Location, presign
from storage_connector.signer import Operation, UrlRequest
from storage_connector.sigv4 import AwsCredentials, SigV4Presigner

VECTORS = Path(__file__).resolve().parent / "vectors" / "aws-sigv4"  # AWS's suite, vendored (vectors/README.md)
NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
ALPHABET = "abcXYZ019 -_.~!*'()+,;=:@&$?#[]%/\"<>^`{|}äöüßéçñ€ሴ日本語😀\u00a0\u3000"  # reserved, unicode, spaces


@functools.cache
def _botocore(
    region: str,
    credentials: AwsCredentials,
    endpoint: str | None = None,
    style: str = "virtual",
    user: str | None = None,
) -> Any:
    """A botocore S3 client (one per configuration: creating one costs more than thousands of URLs)."""
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=region,
    )
    client = session.client(
        "s3", endpoint_url=endpoint, config=Config(signature_version="s3v4", s3={"addressing_style": style})
    )
    if user is not None:
        client.meta.events.register("before-sign.s3", _add_user(user))
    return client


def _add_user(user: str) -> Any:
    """A botocore handler that adds the signed user parameter the way Enclave's URLs carry it."""

    def handler(request: Any, **_: Any) -> None:
        separator = "&" if "?" in request.url else "?"
        request.url += f"{separator}{USER_PARAMETER}={quote(user, safe='~')}"

    return handler


def _random_key(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40)))


CREDENTIALS = [
    AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    AwsCredentials("ASIAEXAMPLE", "secret/with+chars=", session_token="FQoG/ZXIvYXdzEP+//token=="),
]


@pytest.mark.parametrize(("region", "credentials"), [("us-east-1", CREDENTIALS[0]), ("eu-west-1", CREDENTIALS[1])])
def test_get_urls_are_byte_identical_to_botocore_on_random_keys(region: str, credentials: AwsCredentials) -> None:
    rng = random.Random(f"sigv4-{region}")
    client = _botocore(region, credentials)
    location = S3Location("tenant-bucket", region)
    presigner = SigV4Presigner(region, "s3")
    expires = NOW + timedelta(seconds=900)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        for _ in range(5000):
            key = _random_key(rng)
            expected = client.generate_presigned_url(
                "get_object", Params={"Bucket": "tenant-bucket", "Key": key}, ExpiresIn=900
            )
            [ours] = presign(
                presigner,
                location,
                credentials,
                [UrlRequest(Operation.GET, key)],
                now=NOW,
                expires_at=expires,
                principal=None,
            )
            assert ours.url == expected, key


EVERY_REGION = sorted((p.id, region) for p in partitions() for region in p.regions)


def test_every_partition_is_covered() -> None:
    ids = {partition for partition, _ in EVERY_REGION}
    assert {"aws", "aws-cn", "aws-us-gov"} <= ids
    assert {"cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1"} <= {r for _, r in EVERY_REGION}


@pytest.mark.parametrize(("partition", "region"), EVERY_REGION, ids=[r for _, r in EVERY_REGION])
def test_urls_in_every_region_of_every_partition_are_byte_identical_to_botocore(partition: str, region: str) -> None:
    """China (amazonaws.com.cn), GovCloud and every other partition botocore knows: its hosts, its scope."""
    rng = random.Random(f"partition-{region}")
    for bucket, style in (("tenant-bucket", "virtual"), ("dotted.bucket", "path")):
        client = _botocore(region, CREDENTIALS[1], style=style)
        location = S3Location(bucket, region)
        presigner = SigV4Presigner(region, "s3")
        keys = [_random_key(rng) for _ in range(10)]
        with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
            expected_urls = [
                client.generate_presigned_url(
                    "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "text/csv"}, ExpiresIn=600
                )
                for key in keys
            ]
        ours = presign(
            presigner,
            location,
            CREDENTIALS[1],
            [UrlRequest(Operation.PUT, key, content_type="text/csv") for key in keys],
            now=NOW,
            expires_at=NOW + timedelta(seconds=600),
            principal=None,
        )
        assert [url.url for url in ours] == expected_urls, (region, bucket)
    if partition == "aws-cn":
        assert ".amazonaws.com.cn/" in ours[0].url


def test_a_region_no_partition_lists_has_no_location() -> None:
    with pytest.raises(ValueError, match="not a region"):
        S3Location("tenant-bucket", "eu-west-9")


ENDPOINTS = [
    "http://127.0.0.1:5000",
    "https://storage.example.net/s3api",  # an S3-compatible API under a path keeps it
    "https://storage.example.net:8443/tenant/s3/",
    "https://Storage.Example.NET:443/S3api",  # botocore signs the host lower-cased, without the default port
]


CASES: list[tuple[str, dict[str, Any], UrlRequest]] = [
    ("put_object", {"ContentType": "text/plain"}, UrlRequest(Operation.PUT, "k", content_type="text/plain")),
    (
        "put_object",
        {"ChecksumSHA256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
        UrlRequest(Operation.PUT, "k", checksum_sha256="n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
    ),
    (
        "put_object",
        {"ContentMD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        UrlRequest(Operation.PUT, "k", content_md5="1B2M2Y8AsgTpgAmY7PhCfg=="),
    ),
    ("create_multipart_upload", {}, UrlRequest(Operation.MULTIPART_CREATE, "k")),
    (
        "upload_part",
        {"UploadId": "u/1+2", "PartNumber": 7},
        UrlRequest(Operation.MULTIPART_PART, "k", upload_id="u/1+2", part_number=7),
    ),
    ("complete_multipart_upload", {"UploadId": "u1"}, UrlRequest(Operation.MULTIPART_COMPLETE, "k", upload_id="u1")),
    ("abort_multipart_upload", {"UploadId": "u1"}, UrlRequest(Operation.MULTIPART_ABORT, "k", upload_id="u1")),
    ("get_object", {}, UrlRequest(Operation.GET, "k")),
]


@pytest.mark.parametrize(("method", "params", "request_"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("user", [None, "alice@example.com", "api-key:ab12 ü&="])
def test_every_operation_is_byte_identical_to_botocore(
    method: str, params: dict[str, Any], request_: UrlRequest, user: str | None
) -> None:
    rng = random.Random(f"{method}-{user}")
    for bucket, endpoint, style in (
        ("tenant-bucket", None, "virtual"),
        ("dotted.bucket", None, "path"),
        *(("tenant-bucket", endpoint, "path") for endpoint in ENDPOINTS),
    ):
        client = _botocore("eu-west-1", CREDENTIALS[1], endpoint, style, user)
        presigner = SigV4Presigner("eu-west-1", "s3")
        location = S3Location(bucket, "eu-west-1", endpoint)
        keys = [_random_key(rng) for _ in range(15)]
        with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
            expected_urls = [
                client.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=3600)
                for key in keys
            ]
        for key, expected in zip(keys, expected_urls, strict=True):
            request = request_._replace(object_name=key)
            [ours] = presign(
                presigner,
                location,
                CREDENTIALS[1],
                [request],
                now=NOW,
                expires_at=NOW + timedelta(hours=1),
                principal=user,
            )
            assert ours.url == expected, (bucket, key)


# -- published vectors ------------------------------------------------------------------------------
def _parse_request(text: str) -> tuple[str, str, list[tuple[str, str]], dict[str, str], str]:
    lines = text.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers: dict[str, list[str]] = {}
    last = ""
    body = ""
    for number, line in enumerate(lines[1:], start=1):
        if not line:
            body = "\n".join(lines[number + 1 :])
            break
        if line[0] in " \t":  # an obsolete folded continuation of the previous header
            headers[last][-1] += " " + line.strip()
            continue
        name, value = line.split(":", 1)
        last = name.lower()
        headers.setdefault(last, []).append(value.strip())
    path, _, query = target.partition("?")
    params = []
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        params.append((unquote(name), unquote(value)))
    return method, path, params, {name: ",".join(values) for name, values in headers.items()}, body


def _applies_to_s3(case: Path) -> bool:
    """S3 signs the path as sent (no normalisation): the unnormalised cases, and the normalised ones whose
    path normalisation leaves unchanged. Cases without presigned (query-*) expectations do not apply, nor
    those that leave the session token out of the signature (S3 signs X-Amz-Security-Token)."""
    if not (case / "query-signature.txt").exists():
        return False
    context = json.loads((case / "context.json").read_text())
    if context.get("omit_session_token"):
        return False
    if not context["normalize"]:
        return True
    _, path, _, _, _ = _parse_request((case / "request.txt").read_text())
    return "//" not in path and not any(segment in (".", "..") for segment in path.split("/"))


QUERY_CASES = sorted(p for p in VECTORS.iterdir() if p.is_dir() and _applies_to_s3(p))


def test_the_applicable_vector_set_is_not_empty() -> None:
    assert len(QUERY_CASES) >= 20
    assert {"get-space-unnormalized", "get-slashes-unnormalized", "get-utf8", "get-vanilla-query-order-encoded"} <= {
        p.name for p in QUERY_CASES
    }


@pytest.mark.parametrize("case", QUERY_CASES, ids=[p.name for p in QUERY_CASES])
def test_query_vector(case: Path) -> None:
    context = json.loads((case / "context.json").read_text())
    method, path, params, headers, body = _parse_request((case / "request.txt").read_text())
    creds = context["credentials"]
    credentials = AwsCredentials(creds["access_key_id"], creds["secret_access_key"], creds.get("token"))
    host = headers.pop("host")
    parts = SigV4Presigner(context["region"], context["service"]).presign(
        credentials=credentials,
        method=method,
        host=host,
        encoded_path=quote(path, safe="/~"),
        params=params,
        headers=headers,
        now=datetime.fromisoformat(context["timestamp"].replace("Z", "+00:00")),
        expires_seconds=context["expiration_in_seconds"],
        payload_hash=hashlib.sha256(body.encode() if context["sign_body"] else b"").hexdigest(),
    )
    assert parts.canonical_request == (case / "query-canonical-request.txt").read_text()
    assert parts.string_to_sign == (case / "query-string-to-sign.txt").read_text()
    assert parts.signature == (case / "query-signature.txt").read_text().strip()
