"""Re-validation during a session, against a real OpenID Provider that issues refresh tokens (node
oidc-provider 8.8.1, accounts the test disables or regroups): a user disabled at the provider loses the
session within the interval, not at the 12-hour limit; a group change reaches the session; a provider that
cannot be asked leaves the session refused, not ended; a provider without refresh tokens caps the session at
the interval; nothing here is ever written to the audit log but the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text, update

from auth.roles import Role
from auth.sealing import generate_secrets_key
from auth.sessions import SessionStore, token_hash
from auth.sessions_models import UserSessionRow
from auth.sso.config import SignInPolicy
from auth.sso.flow import LoginResult
from auth.sso.revalidation import GRACE
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    audit_rows,
    configure,
    login_as,
    oidc_config,
    opened,
    service,
)
from tests.support.oidc.nodeproc import managed_provider

INTERVAL = 300
POLICY = SignInPolicy(
    allowed_domains=("acme.test",),
    jit=True,
    role_claim="groups",
    role_map={"admins": Role.ADMIN, "staff": Role.MEMBER},
    revalidate_seconds=INTERVAL,
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], refresh_tokens=True) as url:
        yield url


def with_groups(runtime: Runtime, issuer: str) -> None:
    config = oidc_config(issuer)
    scoped = config.model_copy(update={"options": config.options.model_copy(update={"scopes": ("groups",)})})
    configure(runtime, scoped, POLICY)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, issuer: str) -> Iterator[Runtime]:
    """SQLite and MariaDB."""
    with opened(database_url, tmp_path / "data") as runtime:
        with_groups(runtime, issuer)
        yield runtime


def account(issuer: str, login: str, **change: object) -> None:
    httpx.post(f"{issuer}/_admin/account", json={"login": login, **change}).raise_for_status()


def due(result: LoginResult) -> datetime:
    assert result.session.revalidate_at is not None
    return result.session.revalidate_at + timedelta(seconds=1)


def row(runtime: Runtime, result: LoginResult) -> UserSessionRow:
    with runtime.sessions() as session:
        found = session.get(UserSessionRow, token_hash(result.session_token))
        assert found is not None
        return found


def test_a_user_disabled_at_the_provider_loses_the_session_within_the_interval(issuer: str, runtime: Runtime) -> None:
    account(issuer, "ann@acme.test", groups=["staff"], disabled=False)
    svc = service(runtime)
    result = login_as(svc, "ann@acme.test")
    assert result.session.revalidate_at == result.session.created_at + timedelta(seconds=INTERVAL)
    assert row(runtime, result).idp_token  # the refresh token re-validation asks with
    just_before = result.session.created_at + timedelta(seconds=INTERVAL - 1)
    assert svc.store.lookup(result.session_token, just_before) is not None  # the provider is not asked yet
    account(issuer, "ann@acme.test", disabled=True)  # IT disables ann at the provider
    assert svc.store.lookup(result.session_token, due(result)) is None
    ended = row(runtime, result)
    assert ended.revoked_at is not None and ended.revoked_reason == "re-validation: refresh_refused"
    assert ended.idp_token is None  # an ended session keeps no credential
    ((_, body),) = audit_rows(runtime, "auth.session.revoked")
    record = json.loads(body)
    assert record["reason"] == "re-validation: refresh_refused"
    assert record["actor"] == {"kind": "system", "id": "sso:corp"} | {
        k: v for k, v in record["actor"].items() if k not in ("kind", "id")
    }
    assert row(runtime, result).idp_token is None
    account(issuer, "ann@acme.test", disabled=False)


def test_a_live_user_is_revalidated_and_a_group_change_reaches_the_session(issuer: str, runtime: Runtime) -> None:
    account(issuer, "bob@acme.test", groups=["admins"], disabled=False)
    svc = service(runtime)
    result = login_as(svc, "bob@acme.test")
    assert result.session.role is Role.ADMIN
    first_token = row(runtime, result).idp_token
    account(issuer, "bob@acme.test", groups=["staff"])  # out of the admins group at the provider
    moment = due(result)
    active = svc.store.lookup(result.session_token, moment)
    assert active is not None and active.role is Role.MEMBER
    assert active.revalidate_at == moment + timedelta(seconds=INTERVAL)
    assert row(runtime, result).idp_token not in (None, "")
    assert first_token is not None
    changes = [json.loads(b)["details"] for _, b in audit_rows(runtime, "auth.user.role.changed")]
    assert changes == [{"from": "admin", "to": "member", "why": "claim groups maps to member"}]
    assert svc.store.lookup(result.session_token, moment + timedelta(seconds=10)) is not None  # not asked again


def test_a_provider_that_cannot_be_asked_leaves_the_session_refused_not_ended(
    tmp_path: Path, database_url: str
) -> None:
    with opened(database_url, tmp_path / "data") as runtime:
        with managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], refresh_tokens=True) as short_lived:
            with_groups(runtime, short_lived)
            svc = service(runtime)
            result = login_as(svc, "cat@acme.test")
            svc.store.lookup(result.session_token)  # discovery and keys are cached; the provider then stops
        moment = due(result)
        assert svc.store.lookup(result.session_token, moment) is None
        kept = row(runtime, result)
        assert kept.revoked_at is None and kept.idp_token is not None  # refused for now, not ended
        assert kept.revalidating_until is not None  # asked again after it, not on every request
        assert svc.store.lookup(result.session_token, moment + timedelta(seconds=5)) is None
        assert audit_rows(runtime, "auth.session.revoked") == []


def test_while_one_request_asks_the_provider_others_get_a_short_grace(issuer: str, runtime: Runtime) -> None:
    svc = service(runtime)
    result = login_as(svc, "dan@acme.test")
    moment = due(result)
    with transaction(runtime.sessions) as session:  # another replica holds the lease (a slow provider)
        session.execute(
            update(UserSessionRow)
            .where(UserSessionRow.id == token_hash(result.session_token))
            .values(revalidating_until=moment + 2 * GRACE)
        )
    assert svc.store.lookup(result.session_token, moment) is not None
    assert svc.store.lookup(result.session_token, moment + GRACE) is None  # past the grace: no longer
    answered = svc.store.lookup(result.session_token, moment + 2 * GRACE)  # the lease lapsed: this one asks
    assert answered is not None and answered.revalidate_at == moment + 2 * GRACE + timedelta(seconds=INTERVAL)


def test_without_a_revalidator_a_due_session_is_refused(issuer: str, runtime: Runtime) -> None:
    result = login_as(service(runtime), "eve@acme.test")
    bare = SessionStore(runtime.sessions)  # nothing here can ask the provider
    assert bare.lookup(result.session_token) is not None
    assert bare.lookup(result.session_token, due(result)) is None


def test_without_a_refresh_token_the_session_lasts_the_interval(tmp_path: Path) -> None:
    with (
        managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], refresh_tokens=False) as no_refresh,
        opened(f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data") as runtime,
    ):
        with_groups(runtime, no_refresh)
        svc = service(runtime)
        result = login_as(svc, "fay@acme.test")
        assert result.session.revalidate_at is None
        assert result.session.expires_at == result.session.created_at + timedelta(seconds=INTERVAL)
        assert row(runtime, result).idp_token is None
        limit = result.session.expires_at
        assert svc.store.lookup(result.session_token, limit - timedelta(seconds=1)) is not None
        assert svc.store.lookup(result.session_token, limit) is None


def test_no_credential_reaches_a_log_or_the_audit_log(
    issuer: str, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    account(issuer, "gil@acme.test", disabled=False)
    svc = service(runtime)
    result = login_as(svc, "gil@acme.test")
    refresh = row(runtime, result).idp_token
    assert refresh
    account(issuer, "gil@acme.test", disabled=True)
    with caplog.at_level("DEBUG"):
        assert svc.store.lookup(result.session_token, due(result)) is None
    actions = ("auth.session.revoked", "auth.login.succeeded")
    everything = b"".join(body for action in actions for _, body in audit_rows(runtime, action))
    assert refresh.encode() not in everything
    assert refresh not in caplog.text
    account(issuer, "gil@acme.test", disabled=False)


def test_the_refresh_token_is_sealed_and_a_gateway_without_its_key_ends_the_session(
    issuer: str, database_url: str, tmp_path: Path
) -> None:
    account(issuer, "dan@acme.test", groups=["staff"], disabled=False)
    with opened(database_url, tmp_path / "data") as runtime:
        with_groups(runtime, issuer)
        result = login_as(service(runtime), "dan@acme.test")
        refresh = row(runtime, result).idp_token
        with runtime.engine.connect() as db:
            stored = db.execute(text("SELECT idp_token FROM user_sessions")).scalar_one()
        assert refresh and stored.startswith("sealed:v1:") and refresh not in stored
    with opened(database_url, tmp_path / "data", secrets_key=generate_secrets_key()) as runtime:
        svc = service(runtime)
        assert svc.store.lookup(result.session_token, due(result)) is None  # closed: no token it can read
        ended = row(runtime, result)
        assert ended.revoked_at is not None and ended.revoked_reason == "re-validation: reauthentication_required"
