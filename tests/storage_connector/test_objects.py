"""GrantObjects: put, get and list under a grant's prefix through the grant's own signer, with real bytes.

- The local store: the in-process transport checks each URL as the gateway's route does (HMAC, method, expiry,
  content type and MD5).
- Azure: Azurite (Microsoft's emulator), which checks SAS signatures, permissions and stored access policies:
  deleting the customer's policies stops writes and listings at once.
- S3: moto's server, with real object writes, reads and ListObjectsV2 pages. moto does NOT check presigned-URL
  signatures (NOTES.md): what this proves for S3 is the request shapes, the bytes and the listing parser; the
  signatures themselves are proven byte-identical to botocore in test_sigv4.py.
- GCS: no emulator runs here; the listing parser is checked on the response shape Google documents, and the
  signed listing URL on the V4 rules the published conformance vectors cover (test_gcs_v4.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from azure.storage.blob import AccessPolicy, BlobServiceClient, ContainerSasPermissions

from audit.events import utc_now
from storage_connector.azure import AzureSigner
from storage_connector.backends import parse_spec
from storage_connector.grants import Backend, Grant
from storage_connector.local import LocalSigner, LocalStore
from storage_connector.objects import (
    GrantObjects,
    ObjectExistsError,
    ObjectStoreError,
    _parse_listing,
    cloud_http,
    local_http,
)
from storage_connector.s3 import S3Signer
from tests.storage_connector.servers import azurite, azurite_account_key, moto_server

SEGMENT = b'{"body":{"seq":1},"hash":"ab","type":"record"}\n' * 50
HEAD = b'{"size":50,"type":"synced-head"}\n'


def exercise(objects: GrantObjects) -> None:
    """What the audit sync does with a bucket: append-only writes, reads back, listings."""
    assert objects.list("audit/") == []
    assert objects.put(
        "audit/segments/00000000000000000001-00000000000000000050.jsonl", SEGMENT, "application/x-ndjson"
    )
    assert objects.put("audit/heads/00000000000000000050.json", HEAD, "application/json")
    assert objects.get("audit/heads/00000000000000000050.json") == HEAD
    assert objects.get("audit/segments/00000000000000000001-00000000000000000050.jsonl") == SEGMENT
    assert objects.get("audit/heads/00000000000000000099.json") is None
    assert not objects.put("audit/heads/00000000000000000050.json", HEAD, "application/json")  # a retried write
    with pytest.raises(ObjectExistsError, match="never replaced"):
        objects.put("audit/heads/00000000000000000050.json", HEAD + b"x", "application/json")
    assert objects.get("audit/heads/00000000000000000050.json") == HEAD
    listed = objects.list("audit/")
    assert [(info.key, info.size) for info in listed] == [
        ("audit/heads/00000000000000000050.json", len(HEAD)),
        ("audit/segments/00000000000000000001-00000000000000000050.jsonl", len(SEGMENT)),
    ]
    assert [info.key for info in objects.list("audit/heads/")] == ["audit/heads/00000000000000000050.json"]
    with pytest.raises(ObjectStoreError, match="refused"):
        objects.put("../escape", b"x")


# -- the local store ---------------------------------------------------------------------------------------


def local_grant(prefix: str = "tenants/acme") -> Grant:
    return Grant.unsaved(
        "acme", parse_spec({"backend": "local", "bucket": "data", "prefix": prefix}), "0123456789abcdef"
    )


def local_objects(root: Path, key: bytes = b"k" * 32, grant: Grant | None = None) -> GrantObjects:
    grant = grant or local_grant()
    signer = LocalSigner(grant_id=grant.id, key=key, base_url="http://127.0.0.1:8000", max_upload_bytes=1 << 20)
    return GrantObjects(grant, signer, local_http(signer, LocalStore(root), grant.bucket))


def test_local_store_objects_with_real_bytes(tmp_path: Path) -> None:
    objects = local_objects(tmp_path)
    exercise(objects)
    stored = tmp_path / "data" / "tenants" / "acme" / "audit" / "heads" / "00000000000000000050.json"
    assert stored.read_bytes() == HEAD
    other = local_objects(tmp_path, grant=local_grant("tenants/globex"))
    assert other.list("audit/") == []  # another grant's prefix shows nothing of acme's


def test_local_store_refuses_urls_signed_with_another_key(tmp_path: Path) -> None:
    grant = local_grant()
    signer = LocalSigner(grant_id=grant.id, key=b"a" * 32, base_url="http://127.0.0.1:8000", max_upload_bytes=100)
    checker = LocalSigner(grant_id=grant.id, key=b"b" * 32, base_url="http://127.0.0.1:8000", max_upload_bytes=100)
    objects = GrantObjects(grant, signer, local_http(checker, LocalStore(tmp_path), grant.bucket))
    with pytest.raises(ObjectStoreError, match="HTTP 403") as refused:
        objects.list("audit/")
    assert refused.value.denied
    with pytest.raises(ObjectStoreError, match="HTTP 403"):
        objects.put("audit/x", b"x")


def test_a_listing_url_cannot_be_used_to_download(tmp_path: Path) -> None:
    objects = local_objects(tmp_path)
    objects.put("audit/a", b"secret bytes")
    signer = objects._signer
    listing = signer.sign_list("tenants/acme/audit/a", None, objects._context())
    as_download = listing.url.replace("list=1&", "")
    response = objects._http.get(as_download)
    assert response.status_code == 403  # the signature covers LIST, not GET


# -- Azure (Azurite) ----------------------------------------------------------------------------------------

ACCOUNT, CONTAINER, POLICY = "devstoreaccount1", "acme-audit", "enclave-urls"


@pytest.fixture(scope="module")
def account_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url


def _service(account_url: str) -> BlobServiceClient:
    return BlobServiceClient(account_url, credential={"account_name": ACCOUNT, "account_key": azurite_account_key()})


def _azure_objects(account_url: str, container: str) -> GrantObjects:
    spec = {
        "backend": "azure",
        "bucket": container,
        "prefix": "tenants/acme",
        "azure_account": ACCOUNT,
        "endpoint": account_url,
        "azure_policy_id": POLICY,
    }
    grant = Grant.unsaved("acme", parse_spec(spec), "az1")
    signer = AzureSigner(grant, account_key=azurite_account_key(), clock=utc_now)
    return GrantObjects(grant, signer, cloud_http())


def _policies(read: ContainerSasPermissions) -> dict[str, AccessPolicy]:
    return {
        f"{POLICY}-r": AccessPolicy(permission=read),
        f"{POLICY}-w": AccessPolicy(permission=ContainerSasPermissions(create=True, write=True)),
    }


def test_azure_objects_with_real_bytes_and_sas_checked(account_url: str) -> None:
    container = _service(account_url).create_container(CONTAINER)
    container.set_container_access_policy(_policies(ContainerSasPermissions(read=True, list=True)))
    objects = _azure_objects(account_url, CONTAINER)
    exercise(objects)
    blob = container.get_blob_client("tenants/acme/audit/heads/00000000000000000050.json")
    assert blob.download_blob().readall() == HEAD
    # Customer IT revokes by deleting the stored access policies: the next write and listing are refused.
    container.set_container_access_policy({})
    with pytest.raises(ObjectStoreError, match="HTTP 403") as refused:
        objects.list("audit/")
    assert refused.value.denied
    with pytest.raises(ObjectStoreError, match="HTTP 403"):
        objects.put("audit/heads/00000000000000000099.json", HEAD)


def test_azure_listing_needs_list_in_the_read_policy(account_url: str) -> None:
    container = _service(account_url).create_container("acme-audit-readonly")
    container.set_container_access_policy(_policies(ContainerSasPermissions(read=True)))
    objects = _azure_objects(account_url, "acme-audit-readonly")
    with pytest.raises(ObjectStoreError, match="HTTP 403"):
        objects.list("audit/")


# -- S3 (moto's server; it does not check presigned signatures) -------------------------------------------


class FakeSts:
    """moto's STS, reached with boto3 (AssumeRole is not the subject here; test_s3_moto.py covers it)."""

    def __init__(self, endpoint: str) -> None:
        self.client = boto3.client(
            "sts", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
        )

    def assume_role(self, **kwargs: object) -> dict[str, object]:
        return self.client.assume_role(**kwargs)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server(None) as endpoint:
        yield endpoint


def _s3_objects(endpoint: str, bucket: str) -> tuple[GrantObjects, object]:
    keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=endpoint, **keys)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    spec = {
        "backend": "s3",
        "bucket": bucket,
        "prefix": "tenants/acme",
        "region": "eu-west-1",
        "endpoint": endpoint,
        "role_arn": "arn:aws:iam::123456789012:role/enclave-access",
        "external_id": "acme-7f3c2a91",
    }
    grant = Grant.unsaved("acme", parse_spec(spec), "s31")
    signer = S3Signer(grant, sts_client=FakeSts(endpoint), clock=utc_now)
    return GrantObjects(grant, signer, cloud_http()), s3


def test_s3_objects_with_real_bytes(s3_endpoint: str) -> None:
    objects, s3 = _s3_objects(s3_endpoint, "acme-audit")
    exercise(objects)
    stored = s3.get_object(Bucket="acme-audit", Key="tenants/acme/audit/heads/00000000000000000050.json")  # type: ignore[attr-defined]
    assert stored["Body"].read() == HEAD
    assert stored["ContentType"] == "application/json"


def test_s3_listing_follows_continuation_tokens(s3_endpoint: str) -> None:
    objects, s3 = _s3_objects(s3_endpoint, "acme-many")
    for number in range(1005):  # ListObjectsV2 answers 1,000 keys a page
        s3.put_object(Bucket="acme-many", Key=f"tenants/acme/audit/segments/{number:020d}.jsonl", Body=b"x")  # type: ignore[attr-defined]
    s3.put_object(Bucket="acme-many", Key="tenants/globex/audit/x", Body=b"x")  # type: ignore[attr-defined]
    listed = objects.list("audit/segments/")
    assert len(listed) == 1005 and listed[0].key == "audit/segments/00000000000000000000.jsonl"


# -- listing formats --------------------------------------------------------------------------------------


def _response(body: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode())


def test_gcs_xml_listing_shape() -> None:
    """The shape of https://cloud.google.com/storage/docs/xml-api/get-bucket-list (list-type=2)."""
    page = """<?xml version='1.0' encoding='UTF-8'?>
<ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'>
  <Name>acme-audit</Name><Prefix>tenants/acme/audit/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated><NextContinuationToken>CgV0b2tlbg==</NextContinuationToken>
  <Contents><Key>tenants/acme/audit/heads/1.json</Key><Generation>1</Generation><Size>120</Size></Contents>
  <Contents><Key>tenants/acme/audit/heads/2.json</Key><Generation>1</Generation><Size>121</Size></Contents>
</ListBucketResult>"""
    names, marker = _parse_listing(Backend.GCS, _response(page))
    assert names == [("tenants/acme/audit/heads/1.json", 120), ("tenants/acme/audit/heads/2.json", 121)]
    assert marker == "CgV0b2tlbg=="
    last = page.replace("<IsTruncated>true</IsTruncated>", "<IsTruncated>false</IsTruncated>")
    assert _parse_listing(Backend.GCS, _response(last))[1] is None


def test_azure_listing_shape() -> None:
    """The shape of https://learn.microsoft.com/rest/api/storageservices/list-blobs."""
    page = """<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="c">
  <Prefix>tenants/acme/</Prefix>
  <Blobs><Blob><Name>tenants/acme/a</Name><Properties><Content-Length>7</Content-Length></Properties></Blob></Blobs>
  <NextMarker>2!84!MDAwMDE</NextMarker>
</EnumerationResults>"""
    assert _parse_listing(Backend.AZURE, _response(page)) == ([("tenants/acme/a", 7)], "2!84!MDAwMDE")
    assert _parse_listing(Backend.AZURE, _response(page.replace("2!84!MDAwMDE", "")))[1] is None
    with pytest.raises(ObjectStoreError, match="not XML"):
        _parse_listing(Backend.AZURE, _response("<html"))


def test_gcs_listing_url_is_signed_for_the_bucket(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from storage_connector.gcs import GcsServiceAccount, GcsSigner
    from storage_connector.signer import SigningContext

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    account = GcsServiceAccount({"client_email": "enclave@p.iam.gserviceaccount.com", "private_key": pem.decode()})
    grant = Grant.unsaved(
        "acme", parse_spec({"backend": "gcs", "bucket": "acme-audit", "prefix": "tenants/acme"}), "g1"
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    url = GcsSigner(grant, account).sign_list(
        "tenants/acme/audit/", "tok", SigningContext(now + timedelta(minutes=5), now, "p", "a" * 32)
    )
    assert url.url.startswith("https://storage.googleapis.com/acme-audit?")
    assert (
        "continuation-token=tok" in url.url
        and "list-type=2" in url.url
        and "prefix=tenants%2Facme%2Faudit%2F" in url.url
    )
    assert "X-Goog-Signature=" in url.url and dict(url.headers) == {}
