"""The local store: HMAC-signed URLs checked as a cloud store would, and files confined to the bucket."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from storage_connector.local import ROUTE, LocalAccess, LocalSigner, LocalStore, LocalStoreError, LocalUrlError
from storage_connector.signer import Operation, SigningContext, UrlRequest

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def _signer(key: bytes = KEY) -> LocalSigner:
    return LocalSigner(grant_id="g1", key=key, base_url="http://127.0.0.1:8000", max_upload_bytes=10)


def _sign(request: UrlRequest, ttl: int = 60) -> tuple[str, str, dict[str, str]]:
    [url] = _signer().sign([request], SigningContext(NOW + timedelta(seconds=ttl), NOW, "alice@acme", "b" * 32))
    parts = urlsplit(url.url)
    grant, _, name = parts.path.removeprefix(ROUTE + "/").partition("/")
    return grant, unquote(name), dict(parse_qsl(parts.query))


def test_a_signed_url_verifies_and_carries_the_user() -> None:
    grant, name, query = _sign(UrlRequest(Operation.PUT, "t/a b+ü.txt", content_type="text/plain"))
    assert name == "t/a b+ü.txt"
    access = _signer().verify("PUT", grant, name, query, NOW)
    assert (access.user, access.content_type, access.max_bytes) == ("alice@acme", "text/plain", 10)


def test_tampered_expired_and_misused_urls_are_refused() -> None:
    grant, name, query = _sign(UrlRequest(Operation.GET, "t/a"))
    signer = _signer()
    with pytest.raises(LocalUrlError, match="signature"):
        signer.verify("GET", grant, "t/b", query, NOW)
    with pytest.raises(LocalUrlError, match="signature"):
        signer.verify("PUT", grant, name, query, NOW)
    with pytest.raises(LocalUrlError, match="signature"):
        signer.verify("GET", "g2", name, query, NOW)
    with pytest.raises(LocalUrlError, match="signature"):
        signer.verify("GET", grant, name, {**query, "expires": str(int(query["expires"]) + 3600)}, NOW)
    with pytest.raises(LocalUrlError, match="signature"):
        signer.verify("GET", grant, name, {**query, "signature": "0" * 64}, NOW)
    with pytest.raises(LocalUrlError, match="signature"):
        _signer(b"x" * 32).verify("GET", grant, name, query, NOW)
    with pytest.raises(LocalUrlError, match="parameters"):
        signer.verify("GET", grant, name, {**query, "max-bytes": "99999"} | {"extra": "1"}, NOW)
    with pytest.raises(LocalUrlError, match="expired"):
        signer.verify("GET", grant, name, query, NOW + timedelta(seconds=61))


def _access(md5: str | None = None, limit: int = 10) -> LocalAccess:
    return LocalAccess("g1", "t/a", "PUT", "alice", None, md5, limit)


def test_the_store_enforces_size_and_checksum_and_keeps_nothing_on_failure(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.write("data", "t/a", iter([b"hello", b"!"]), _access()) == 6
    assert (tmp_path / "data" / "t" / "a").read_bytes() == b"hello!"
    with pytest.raises(LocalStoreError, match="larger"):
        store.write("data", "t/a", iter([b"0123456789", b"x"]), _access())
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(LocalStoreError, match="Content-MD5"):
        store.write("data", "t/a", iter([b"new"]), _access(wrong))
    assert (tmp_path / "data" / "t" / "a").read_bytes() == b"hello!"  # the old object is intact
    assert [p.name for p in (tmp_path / "data" / "t").iterdir()] == ["a"]  # no temporary file left behind
    right = base64.b64encode(hashlib.md5(b"new").digest()).decode()
    store.write("data", "t/a", iter([b"new"]), _access(right))
    assert store.open("data", "t/a") == (tmp_path / "data" / "t" / "a").resolve()
    assert store.open("data", "t/missing") is None


@pytest.mark.parametrize("name", ["../escape", "t/../../x", "/etc/passwd", "a\\b", "%2e%2e/x"])
def test_the_store_refuses_names_outside_the_bucket(tmp_path: Path, name: str) -> None:
    with pytest.raises(LocalStoreError):
        LocalStore(tmp_path).write("data", name, iter([b"x"]), _access())
    assert not (tmp_path / "escape").exists()
