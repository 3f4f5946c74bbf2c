"""The browser-session authenticator in the chain: cookie -> principal, bearer wins, an ended session is none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.events import SYSTEM_ACTOR, ActorKind
from auth.authn import Credentials
from auth.roles import Role
from auth.sessions import SessionStore
from auth.sessions_authn import SESSION_COOKIE, SessionAuthenticator
from auth.sso.config import SignInPolicy
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.conftest import make_settings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(make_settings(f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data"))
    try:
        yield opened
    finally:
        opened.close()


def test_session_cookie_names_the_user(runtime: Runtime) -> None:
    store = SessionStore(runtime.sessions)
    with transaction(runtime.sessions) as session:
        user = create_user(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email="a@acme.test", role=Role.MEMBER
        )
        token, active = store.create(session, user, SignInPolicy(), provider_id=None)
    authenticator = SessionAuthenticator(store)
    principal = authenticator.authenticate(Credentials(cookies={SESSION_COOKIE: token}))
    assert principal is not None
    assert (principal.kind, principal.id, principal.tenant, principal.role) == (
        ActorKind.USER,
        user.id,
        "acme",
        Role.MEMBER,
    )
    assert authenticator.authenticate(Credentials()) is None
    assert (
        authenticator.authenticate(Credentials(authorization="Bearer enc_x", cookies={SESSION_COOKIE: token})) is None
    )
    assert authenticator.authenticate(Credentials(cookies={SESSION_COOKIE: "stale"})) is None
    with transaction(runtime.sessions) as session:
        store.revoke(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", public_id=active.public_id, reason="t")
    assert authenticator.authenticate(Credentials(cookies={SESSION_COOKIE: token})) is None
