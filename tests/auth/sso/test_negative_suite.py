"""Relying-party checks against a deliberately faulty OpenID Provider, one fault per provider run (in the
spirit of the OpenID Foundation's RP tests). Every invalid case is refused with a clear, audited reason and
opens no session; every valid case is accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.sso.errors import LoginRefusedError
from enclave.runtime import Runtime
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    audit_rows,
    configure,
    oidc_config,
    opened,
    service,
    sign_in,
)
from tests.support.oidc.nodeproc import faulty_provider

REFUSED = {
    "issuer": "issuer_mismatch",
    "audience": "audience_mismatch",
    "azp_missing": "azp_mismatch",
    "nonce": "nonce_mismatch",
    "iat": "iat_in_future",
    "iat_old": "iat_too_old",
    "expired": "expired",
    "nbf": "not_yet_valid",
    "sub": "sub_invalid",
    "bad_signature": "bad_signature",
    "alg_none": "alg_not_allowed",
    "hs256_pubkey": "alg_not_allowed",
    "unknown_kid": "unknown_kid",
    "jwk_header": "embedded_key_refused",
    "jku_header": "embedded_key_refused",
    "crit": "crit_unsupported",
    "only_unparseable_key": "unknown_kid",
    "userinfo_sub": "userinfo_sub_mismatch",
    "discovery_issuer": "discovery_issuer_mismatch",
    "email_unverified": "email_not_verified",
    # RFC 9207: checked before the code is sent anywhere (see the token-request count below)
    "iss_missing": "response_issuer_missing",
    "iss_wrong": "response_issuer_mismatch",
    "iss_unadvertised_wrong": "response_issuer_mismatch",
}
REFUSED_BEFORE_THE_CODE_EXCHANGE = ("iss_missing", "iss_wrong", "iss_unadvertised_wrong")
ACCEPTED = ["valid", "rotation", "unparseable_key", "azp_multi_ok", "iss_advertised"]


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """One faulty provider for the module; each test switches it to its fault (and resets its state)."""
    with faulty_provider("valid", CLIENT_ID, CLIENT_SECRET) as issuer:
        yield issuer


def fault(issuer: str, mode: str) -> str:
    httpx.get(f"{issuer}/_reset", params={"mode": mode}).raise_for_status()
    return issuer


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data") as runtime:
        yield runtime


@pytest.mark.parametrize(("mode", "reason"), sorted(REFUSED.items()))
def test_invalid_case_is_refused_with_an_audited_reason(
    provider: str, runtime: Runtime, mode: str, reason: str
) -> None:
    issuer = fault(provider, mode)
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    with pytest.raises(LoginRefusedError) as refused:
        sign_in(svc)
    assert refused.value.reason == reason
    failures = audit_rows(runtime, "auth.login.failed")
    assert len(failures) == 1
    outcome, body = failures[0]
    record = json.loads(body)
    assert outcome == "denied"
    assert record["reason"] == reason
    assert record["details"]["message"] == str(refused.value)
    assert audit_rows(runtime, "auth.login.succeeded") == []
    if mode in REFUSED_BEFORE_THE_CODE_EXCHANGE:
        assert httpx.get(f"{issuer}/_stats").json()["token_requests"] == 0  # the code went nowhere


@pytest.mark.parametrize("mode", ACCEPTED)
def test_valid_case_is_accepted(provider: str, runtime: Runtime, mode: str) -> None:
    issuer = fault(provider, mode)
    configure(runtime, oidc_config(issuer))
    result = sign_in(service(runtime))
    assert result.user.email == "alice@acme.test"
    assert result.next_path == "/home"
    assert [outcome for outcome, _ in audit_rows(runtime, "auth.login.succeeded")] == ["success"]
    assert audit_rows(runtime, "auth.login.failed") == []


def test_unknown_kid_refetches_the_jwks_once_then_not_again_within_the_interval(
    provider: str, runtime: Runtime
) -> None:
    issuer = fault(provider, "unknown_kid")
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    for _ in range(3):
        with pytest.raises(LoginRefusedError, match="key the provider does not publish"):
            sign_in(svc)
    fetches = httpx.get(f"{issuer}/_stats").json()["jwks_fetches"]
    assert fetches == 2  # the first fetch, one refetch for the unknown kid; later attempts are rate-limited


def test_rotation_is_picked_up_by_one_refetch(provider: str, runtime: Runtime) -> None:
    issuer = fault(provider, "rotation")
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    sign_in(svc)
    sign_in(svc)
    fetches = httpx.get(f"{issuer}/_stats").json()["jwks_fetches"]
    assert fetches == 2  # the second sign-in used the cached, rotated key set


def test_audit_records_never_hold_codes_tokens_or_secrets(provider: str, runtime: Runtime) -> None:
    issuer = fault(provider, "bad_signature")
    configure(runtime, oidc_config(issuer))
    with pytest.raises(LoginRefusedError):
        sign_in(service(runtime))
    bodies = b"".join(
        body for action in ("auth.login.failed", "sso.provider.added") for _, body in audit_rows(runtime, action)
    )
    assert CLIENT_SECRET.encode() not in bodies
    assert b"eyJ" not in bodies  # no JWT
