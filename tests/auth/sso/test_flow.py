"""The sign-in flow end to end against a real OpenID Provider (node oidc-provider 8.8.1): code + PKCE +
state + nonce, JIT provisioning, the tenant's policy, sessions, logout; and the flow's own refusals (state
replay, another browser, open redirects)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audit.events import SYSTEM_ACTOR, utc_now
from auth.models import User
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.sso.errors import LoginRefusedError
from auth.sso.flow import safe_next_path
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TENANT,
    audit_rows,
    configure,
    login_as,
    login_at_real_provider,
    oidc_config,
    opened,
    service,
)
from tests.support.oidc.nodeproc import real_provider

GROUPS = {"root@acme.test": ["enclave-admins"], "sec@acme.test": ["it-security", "staff"]}


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with real_provider(
        CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], ["https://acme.example.com/signed-out"], GROUPS
    ) as url:
        yield url


def _open(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with opened(database_url, tmp_path / "data") as runtime:
        yield runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    yield from _open(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path)


@pytest.fixture
def any_runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """SQLite and MariaDB."""
    yield from _open(database_url, tmp_path)


def test_jit_sign_in_opens_a_session_and_logout_ends_it(issuer: str, any_runtime: Runtime) -> None:
    runtime = any_runtime
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    result = login_as(svc, "alice@acme.test")
    assert result.user.email == "alice@acme.test"
    assert result.user.role == Role.VIEWER.value  # the tenant's default role
    active = svc.store.lookup(result.session_token)
    assert active is not None
    assert active.principal().tenant == TENANT
    assert active.principal().role is Role.VIEWER
    assert [json.loads(b)["details"]["via"] for _, b in audit_rows(runtime, "auth.user.created")] == ["jit"]

    again = login_as(svc, "alice@acme.test", replaces=result.session_token)  # the same person: no second user
    assert again.user.id == result.user.id
    assert svc.store.lookup(result.session_token) is None  # rotated at login
    end_session = svc.logout(again.session_token, post_logout_redirect_uri="https://acme.example.com/signed-out")
    assert end_session is not None
    assert end_session.startswith(f"{issuer}/session/end?client_id={CLIENT_ID}")
    assert svc.store.lookup(again.session_token) is None
    assert len(audit_rows(runtime, "auth.logout")) == 1
    assert len(audit_rows(runtime, "auth.login.succeeded")) == 2


def test_user_from_a_disallowed_domain_is_refused(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    with pytest.raises(LoginRefusedError) as refused:
        login_as(service(runtime), "mallory@evil.test")
    assert refused.value.reason == "domain_not_allowed"
    ((_outcome, body),) = audit_rows(runtime, "auth.login.failed")
    assert json.loads(body)["actor"]["email"] == "mallory@evil.test"
    with runtime.sessions() as session:
        assert session.query(User).count() == 0


def test_invite_only_tenant_signs_in_invited_users_only(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), SignInPolicy(allowed_domains=("acme.test",), jit=False))
    svc = service(runtime)
    with pytest.raises(LoginRefusedError, match="invited users only"):
        login_as(svc, "bob@acme.test")
    with transaction(runtime.sessions) as session:
        create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email="Bob@acme.test", role=Role.MEMBER)
    result = login_as(svc, "bob@acme.test")
    assert result.user.role == Role.MEMBER.value


def test_group_claim_maps_to_the_most_privileged_role(issuer: str, runtime: Runtime) -> None:
    policy = SignInPolicy(
        allowed_domains=("acme.test",),
        jit=True,
        role_claim="groups",
        role_map={"enclave-admins": Role.ADMIN, "it-security": Role.SECURITY_ADMIN, "staff": Role.MEMBER},
    )
    config = oidc_config(issuer).model_copy(
        update={"options": oidc_config(issuer).options.model_copy(update={"scopes": ("groups",)})}
    )
    configure(runtime, config, policy)
    svc = service(runtime)
    assert login_as(svc, "root@acme.test").user.role == Role.ADMIN.value
    assert login_as(svc, "sec@acme.test").user.role == Role.SECURITY_ADMIN.value
    assert login_as(svc, "carol@acme.test").user.role == Role.VIEWER.value  # no mapped group: the default


def test_disabled_user_is_refused(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    first = login_as(svc, "dave@acme.test")
    with transaction(runtime.sessions) as session:
        user = session.get(User, first.user.id)
        assert user is not None
        user.disabled_at = utc_now()
    assert svc.store.lookup(first.session_token) is None
    with pytest.raises(LoginRefusedError) as refused:
        login_as(svc, "dave@acme.test")
    assert refused.value.reason == "user_disabled"


def test_state_is_single_use_and_bound_to_the_browser(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    back = login_at_real_provider(start.redirect_url, "erin@acme.test")
    with pytest.raises(LoginRefusedError) as other_browser:
        svc.complete(
            TENANT,
            state=back.state,
            code=back.code,
            error=None,
            browser_binding="another-browser",
            redirect_uri=REDIRECT_URI,
        )
    assert other_browser.value.reason == "browser_mismatch"
    with pytest.raises(LoginRefusedError) as replay:  # the attempt was consumed by the refused try
        svc.complete(
            TENANT,
            state=back.state,
            code=back.code,
            error=None,
            browser_binding=start.browser_binding,
            redirect_uri=REDIRECT_URI,
        )
    assert replay.value.reason == "state_unknown"
    with pytest.raises(LoginRefusedError) as missing:
        svc.complete(
            TENANT,
            state=None,
            code=back.code,
            error=None,
            browser_binding=start.browser_binding,
            redirect_uri=REDIRECT_URI,
        )
    assert missing.value.reason == "state_missing"
    assert [json.loads(b)["reason"] for _, b in audit_rows(runtime, "auth.login.failed")] == [
        "browser_mismatch",
        "state_unknown",
        "state_missing",
    ]


def test_provider_error_is_refused_and_audited(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    svc = service(runtime)
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    state = start.redirect_url.split("state=", 1)[1].split("&", 1)[0]
    with pytest.raises(LoginRefusedError, match="access_denied"):
        svc.complete(
            TENANT,
            state=state,
            code=None,
            error="access_denied",
            browser_binding=start.browser_binding,
            redirect_uri=REDIRECT_URI,
            iss=issuer,  # oidc-provider names itself in error responses too (RFC 9207)
        )


def test_authorization_request_carries_pkce_s256_state_and_nonce(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    url = service(runtime).begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path=None).redirect_url
    for part in ("code_challenge_method=S256", "code_challenge=", "state=", "nonce=", "response_type=code"):
        assert part in url


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "relative", "/a\nb"],
)
def test_post_login_target_must_be_a_relative_path(target: str) -> None:
    with pytest.raises(LoginRefusedError) as refused:
        safe_next_path(target)
    assert refused.value.reason == "bad_next"


def test_safe_targets_pass() -> None:
    assert safe_next_path(None) == "/"
    assert safe_next_path("/files?prefix=a/b") == "/files?prefix=a/b"


def test_unknown_provider_is_refused_and_audited(runtime: Runtime) -> None:
    with pytest.raises(LoginRefusedError) as refused:
        service(runtime).begin(TENANT, "nope", redirect_uri=REDIRECT_URI, next_path="/")
    assert refused.value.reason == "unknown_provider"
    assert len(audit_rows(runtime, "auth.login.failed")) == 1


def test_sign_out_stands_when_the_provider_is_unreachable(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer))
    result = login_as(service(runtime), "fay@acme.test")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("provider down", request=request)

    # a fresh replica: nothing cached, and the provider is down
    restarted = service(runtime, http=httpx.Client(transport=httpx.MockTransport(unreachable)))
    assert restarted.logout(result.session_token, post_logout_redirect_uri=None) is None
    assert restarted.store.lookup(result.session_token) is None
    assert len(audit_rows(runtime, "auth.logout")) == 1
