"""The GCS signer's URLs equal google-cloud-storage's generate_signed_url_v4 for the same key, time, headers
and the signed custom-audit parameter; operations GCS has no signed URL for are refused with the reason."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from google.cloud.storage._signing import generate_signed_url_v4
from google.oauth2 import service_account

from storage_connector.backends import parse_spec
from storage_connector.gcs import USER_PARAMETER, GcsServiceAccount, GcsSigner
from storage_connector.grants import Grant
from storage_connector.signer import Operation, SigningContext, UnsupportedOperationError, UrlRequest

KEY_FILE = Path(__file__).resolve().parent / "vectors" / "gcs-v4" / "test_service_account.not-a-test.json"
INFO = json.loads(KEY_FILE.read_text())
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
ALPHABET = "abcXYZ019 -_.~!*'()+,;=:@&$?#[]/äöü€日本"


def _signer() -> GcsSigner:
    return GcsSigner(
        Grant.unsaved("acme", parse_spec({"backend": "gcs", "bucket": "acme-data"})), GcsServiceAccount(INFO)
    )


def test_urls_match_the_google_library_on_random_keys() -> None:
    credentials = service_account.Credentials.from_service_account_info(INFO)
    rng = random.Random("gcs")
    signer = _signer()
    context = SigningContext(NOW + timedelta(minutes=15), NOW, "alice@acme.example", "0" * 32)
    for _ in range(40):
        name = "tenants/acme/" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30)))
        for request, method, headers in (
            (UrlRequest(Operation.GET, name), "GET", None),
            (UrlRequest(Operation.PUT, name, content_type="text/csv"), "PUT", {"content-type": "text/csv"}),
            (UrlRequest(Operation.MULTIPART_CREATE, name), "POST", {"x-goog-resumable": "start"}),
        ):
            [ours] = signer.sign([request], context)
            expected = generate_signed_url_v4(
                credentials,
                f"/acme-data/{quote(name, safe='/~')}",
                expiration=timedelta(minutes=15),
                method=method,
                headers=dict(headers) if headers else None,  # the library adds Host to the dict it is given
                query_parameters={USER_PARAMETER: "alice@acme.example"},
                _request_timestamp=NOW.strftime("%Y%m%dT%H%M%SZ"),
            )
            assert ours.url == expected, name
            assert dict(ours.headers) == (headers or {})


@pytest.mark.parametrize(
    "operation", [Operation.MULTIPART_PART, Operation.MULTIPART_COMPLETE, Operation.MULTIPART_ABORT]
)
def test_operations_without_a_signed_url_are_refused(operation: Operation) -> None:
    context = SigningContext(NOW + timedelta(minutes=1), NOW, "u", "0" * 32)
    with pytest.raises(UnsupportedOperationError, match="session URI"):
        _signer().sign([UrlRequest(operation, "k", upload_id="u", part_number=1)], context)


def test_a_key_file_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="service-account key"):
        GcsServiceAccount({"client_email": "x@y"})


@pytest.mark.parametrize("project", ["Dummy-Project", "my-google-project", "dummy-project-", "p1"])
def test_a_key_file_of_an_invalid_project_is_refused(project: str) -> None:
    with pytest.raises(ValueError, match="6 to 30 lowercase"):
        GcsServiceAccount({**INFO, "project_id": project})
