"""Azure SAS URLs bound to a stored access policy, against Azurite (Microsoft's emulator, which checks SAS
signatures, permissions, expiry and stored access policies)."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob import AccessPolicy, BlobServiceClient, ContainerSasPermissions, UserDelegationKey

from audit.events import utc_now
from storage_connector.azure import AzureSigner
from storage_connector.backends import parse_spec
from storage_connector.grants import Grant
from storage_connector.signer import Operation, ProbeStatus, SignedUrl, SigningContext, UrlRequest
from tests.storage_connector.servers import azurite, azurite_account_key

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = azurite_account_key()
CONTAINER = "acme-data"
POLICY = "enclave-urls"


def _policies() -> dict[str, AccessPolicy]:
    """What the BYOB kit creates: a read and a write policy; each URL carries its own expiry."""
    return {
        f"{POLICY}-r": AccessPolicy(permission=ContainerSasPermissions(read=True)),
        f"{POLICY}-w": AccessPolicy(permission=ContainerSasPermissions(create=True, write=True)),
    }


@pytest.fixture(scope="module")
def account_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        service = BlobServiceClient(url, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY})
        service.create_container(CONTAINER).set_container_access_policy(_policies())
        yield url


def _grant(account_url: str, delegation: bool = False) -> Grant:
    auth = {"azure_auth": "user-delegation"} if delegation else {"azure_policy_id": POLICY}
    spec = parse_spec(
        {
            "backend": "azure",
            "bucket": CONTAINER,
            "prefix": "tenants/acme",
            "azure_account": ACCOUNT,
            "endpoint": account_url,
            **auth,
        }
    )
    return Grant.unsaved("acme", spec, "az1")


def _sign(account_url: str, *requests: UrlRequest, ttl: timedelta = timedelta(minutes=5)) -> list[SignedUrl]:
    signer = AzureSigner(_grant(account_url), account_key=ACCOUNT_KEY, clock=utc_now)
    now = utc_now()
    return signer.sign(list(requests), SigningContext(now + ttl, now, "alice@acme", "a" * 32))


def _send(url: SignedUrl, content: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.request(url.method, url.url, content=content, headers={**url.headers, **(headers or {})})


def test_put_then_get_through_signed_urls(account_url: str) -> None:
    body = b"quarterly numbers"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    put, get = _sign(
        account_url,
        UrlRequest(Operation.PUT, "tenants/acme/q1.csv", content_type="text/csv", content_md5=md5),
        UrlRequest(Operation.GET, "tenants/acme/q1.csv"),
    )
    assert f"si={POLICY}-w" in put.url
    assert f"si={POLICY}-r" in get.url
    assert _send(put, body).status_code == 201
    response = _send(get)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "text/csv"


def test_other_bytes_than_the_declared_md5_are_refused(account_url: str) -> None:
    md5 = base64.b64encode(hashlib.md5(b"expected").digest()).decode()
    [put] = _sign(account_url, UrlRequest(Operation.PUT, "tenants/acme/md5.bin", content_md5=md5))
    assert _send(put, b"something else").status_code == 400


def test_blocks_and_block_list(account_url: str) -> None:
    name = "tenants/acme/big.bin"
    part1, part2, commit, get = _sign(
        account_url,
        UrlRequest(Operation.MULTIPART_PART, name, upload_id="-", part_number=1),
        UrlRequest(Operation.MULTIPART_PART, name, upload_id="-", part_number=2),
        UrlRequest(Operation.MULTIPART_COMPLETE, name, upload_id="-"),
        UrlRequest(Operation.GET, name),
    )
    assert _send(part1, b"a" * 1000).status_code == 201
    assert _send(part2, b"b" * 10).status_code == 201
    block_list = (
        '<?xml version="1.0" encoding="utf-8"?><BlockList>'
        f"<Latest>{base64.b64encode(b'00001').decode()}</Latest>"
        f"<Latest>{base64.b64encode(b'00002').decode()}</Latest></BlockList>"
    )
    assert _send(commit, block_list.encode()).status_code == 201
    assert _send(get).content == b"a" * 1000 + b"b" * 10


def test_tampered_and_wrong_permission_urls_are_refused(account_url: str) -> None:
    [put] = _sign(account_url, UrlRequest(Operation.PUT, "tenants/acme/t.txt"))
    assert _send(put, b"x").status_code == 201
    [get] = _sign(account_url, UrlRequest(Operation.GET, "tenants/acme/t.txt"))
    for tampered_url in (
        get.url.replace(f"si={POLICY}-r", f"si={POLICY}-w"),  # claim the write policy
        get.url.replace("/t.txt?", "/other.txt?"),  # another blob
        get.url.replace("se=", "se=2099"),  # a longer life
    ):
        assert _send(SignedUrl(get.operation, get.object_name, "GET", tampered_url, get.expires_at)).status_code == 403
    as_write = SignedUrl(
        Operation.PUT, get.object_name, "PUT", get.url, get.expires_at, {"x-ms-blob-type": "BlockBlob"}
    )
    assert _send(as_write, b"overwrite").status_code == 403  # a read URL does not write
    assert _send(get).content == b"x"


def test_deleting_the_stored_access_policy_kills_outstanding_urls(account_url: str) -> None:
    [put] = _sign(account_url, UrlRequest(Operation.PUT, "tenants/acme/p.txt"))
    assert _send(put, b"x").status_code == 201
    [get] = _sign(account_url, UrlRequest(Operation.GET, "tenants/acme/p.txt"))
    signer = AzureSigner(_grant(account_url), account_key=ACCOUNT_KEY, clock=utc_now)
    assert signer.probe().status is ProbeStatus.OK
    container = BlobServiceClient(
        account_url, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
    ).get_container_client(CONTAINER)
    container.set_container_access_policy({})  # customer IT's switch
    try:
        assert _send(get).status_code == 403
        result = signer.probe()
        assert result.status is ProbeStatus.DENIED
        assert POLICY in result.detail
    finally:
        container.set_container_access_policy(_policies())
    assert _send(get).status_code == 200  # re-creating the policy revives the URLs (docs/storage-revocation.md)


# -- user-delegation SAS: Azurite over HTTPS accepting Azure AD tokens ------------------------------------
class EmulatorToken:
    """An Azure AD access token as Azurite's basic OAuth mode checks it (issuer, audience, lifetime)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": "https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": "6b1f4c1e-0000-4000-8000-00000000e1c1",
            "tid": "ab1f708d-50f6-404c-a006-d71b2ac7a606",
        }
        parts = [{"alg": "RS256", "typ": "JWT"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode() for p in parts]
        return AccessToken(".".join([*encoded, "c2lnbmF0dXJl"]), now + 3600)


@pytest.fixture(scope="module")
def oauth_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    location = tmp_path_factory.mktemp("azurite-oauth")
    with azurite(location, oauth=True) as url:
        ca = str(location / "cert.pem")
        BlobServiceClient(url, credential=EmulatorToken(), connection_verify=ca).create_container(CONTAINER)
        yield url, ca


def _delegated(
    oauth_url: tuple[str, str], *requests: UrlRequest, ttl: timedelta = timedelta(minutes=5)
) -> list[SignedUrl]:
    url, ca = oauth_url
    signer = AzureSigner(
        _grant(url, delegation=True),
        token_credential=EmulatorToken(),
        clock=utc_now,
        carry_correlation_id=False,
        connection_verify=ca,
    )
    now = utc_now()
    assert signer.credentials_expire_at(now, ttl) is not None
    return signer.sign(list(requests), SigningContext(now + ttl, now, "alice@acme", "a" * 32))


def _send_tls(url: SignedUrl, ca: str, content: bytes | None = None, method: str | None = None) -> httpx.Response:
    return httpx.request(
        method or url.method,
        url.url,
        content=content,
        headers=dict(url.headers),
        verify=ssl.create_default_context(cafile=ca),
    )


def test_user_delegation_put_get_and_refusals(oauth_url: tuple[str, str]) -> None:
    _, ca = oauth_url
    put, get = _delegated(
        oauth_url, UrlRequest(Operation.PUT, "tenants/acme/d.txt"), UrlRequest(Operation.GET, "tenants/acme/d.txt")
    )
    assert "skoid=" in put.url and "sp=cw" in put.url and "sp=r" in get.url
    assert _send_tls(put, ca, b"delegated").status_code == 201
    assert _send_tls(get, ca).content == b"delegated"
    widened = SignedUrl(get.operation, get.object_name, "GET", get.url.replace("sp=r", "sp=rcw"), get.expires_at)
    assert _send_tls(widened, ca).status_code == 403  # tampered
    as_write = SignedUrl(
        Operation.PUT, get.object_name, "PUT", get.url, get.expires_at, {"x-ms-blob-type": "BlockBlob"}
    )
    assert _send_tls(as_write, ca, b"overwrite").status_code == 403  # wrong permission
    [expired] = _delegated(oauth_url, UrlRequest(Operation.GET, "tenants/acme/d.txt"), ttl=timedelta(seconds=-5))
    assert _send_tls(expired, ca).status_code == 403


def test_user_delegation_urls_carry_the_batch_as_correlation_id() -> None:
    grant = _grant("https://acct.blob.core.windows.net", delegation=True)

    class FixedKeyService:
        def get_user_delegation_key(self, start: Any, expiry: Any) -> UserDelegationKey:
            key = UserDelegationKey()
            key.signed_oid, key.signed_tid, key.signed_service, key.signed_version = "o", "t", "b", "2025-01-05"
            key.signed_start, key.signed_expiry, key.value = "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "a2V5"
            return key

    signer = AzureSigner(grant, token_credential=EmulatorToken(), clock=utc_now)
    signer._service = FixedKeyService()  # type: ignore[assignment]
    now = utc_now()
    [url] = signer.sign(
        [UrlRequest(Operation.GET, "tenants/acme/x")], SigningContext(now + timedelta(minutes=1), now, "u", "ab" * 16)
    )
    assert "scid=abababab-abab-abab-abab-abababababab" in url.url
