"""Mix-up defence against two real OpenID Providers (node oidc-provider 8.8.1, which names itself in every
authorization response and advertises it, RFC 9207): a callback is bound to the provider the sign-in
started with (from the stored attempt, never from the response), and a response naming another issuer is
refused before its code is sent anywhere, so the code stays good at the provider that issued it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth.sso.errors import LoginRefusedError
from auth.sso.flow import LoginResult, SignInService
from enclave.runtime import Runtime
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TENANT,
    Callback,
    audit_rows,
    configure,
    login_at_real_provider,
    oidc_config,
    opened,
    service,
)
from tests.support.oidc.nodeproc import managed_provider


@pytest.fixture(scope="module")
def issuers() -> Iterator[tuple[str, str]]:
    with (
        managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI]) as honest,
        managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI]) as other,
    ):
        yield honest, other


@pytest.fixture
def runtime(tmp_path: Path, issuers: tuple[str, str]) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data") as runtime:
        configure(runtime, oidc_config(issuers[0], "corp"))
        configure(runtime, oidc_config(issuers[1], "partner"))
        yield runtime


def _complete(svc: SignInService, binding: str, back: Callback, iss: str | None) -> LoginResult:
    return svc.complete(
        TENANT,
        state=back.state,
        code=back.code,
        error=None,
        browser_binding=binding,
        redirect_uri=REDIRECT_URI,
        iss=iss,
    )


def test_a_response_from_another_provider_is_refused_and_its_code_is_not_spent(
    runtime: Runtime, issuers: tuple[str, str]
) -> None:
    honest, _other = issuers
    svc = service(runtime)
    at_partner = svc.begin(TENANT, "partner", redirect_uri=REDIRECT_URI, next_path="/")
    at_corp = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    corp_response = login_at_real_provider(at_corp.redirect_url, "alice@acme.test")
    assert corp_response.iss == honest  # the provider names itself
    # the attacker delivers corp's response to the sign-in the victim started with the partner provider
    mixed = Callback(
        state=login_at_real_provider(at_partner.redirect_url, "alice@acme.test").state,
        code=corp_response.code,
        error=None,
        iss=corp_response.iss,
    )
    with pytest.raises(LoginRefusedError) as refused:
        _complete(svc, at_partner.browser_binding, mixed, mixed.iss)
    assert refused.value.reason == "response_issuer_mismatch"
    record = json.loads(audit_rows(runtime, "auth.login.failed")[-1][1])
    assert record["reason"] == "response_issuer_mismatch"
    # corp's code was never redeemed (oidc-provider refuses a code used twice): its own sign-in still works
    result = _complete(svc, at_corp.browser_binding, corp_response, corp_response.iss)
    assert result.user.email == "alice@acme.test"
    succeeded = [json.loads(b)["details"]["provider"] for _, b in audit_rows(runtime, "auth.login.succeeded")]
    assert succeeded == [result.provider_id]


def test_a_response_without_iss_from_a_provider_that_always_sends_it_is_refused(runtime: Runtime) -> None:
    svc = service(runtime)
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    back = login_at_real_provider(start.redirect_url, "bob@acme.test")
    with pytest.raises(LoginRefusedError) as refused:
        _complete(svc, start.browser_binding, back, None)  # the `iss` parameter stripped
    assert refused.value.reason == "response_issuer_missing"


def test_the_provider_comes_from_the_stored_attempt_never_from_the_response(
    runtime: Runtime, issuers: tuple[str, str]
) -> None:
    """A response naming the partner's issuer for a corp sign-in is refused: the response cannot choose the
    provider its code is sent to."""
    _honest, other = issuers
    svc = service(runtime)
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    back = login_at_real_provider(start.redirect_url, "carol@acme.test")
    with pytest.raises(LoginRefusedError) as refused:
        _complete(svc, start.browser_binding, back, other)
    assert refused.value.reason == "response_issuer_mismatch"
