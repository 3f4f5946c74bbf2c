"""Email is not identity: a user is `(provider, subject)`. Against a real OpenID Provider (node oidc-provider
8.8.1) whose accounts are subjects with the emails the test gives them: another subject with the same
verified email never signs in as an existing user; an invited user is claimed by email once, by the first
account that signs in and only if its provider speaks for the address; customer IT links and unlinks
accounts explicitly, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, Actor, ActorKind, utc_now
from auth.apikeys import create_api_key
from auth.identities import (
    IdentityConflictError,
    IdentityError,
    IdentityNotFoundError,
    link_identity,
    list_identities,
    unlink_identity,
)
from auth.models import ApiKey, Tenant, User
from auth.roles import Role
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.errors import LoginRefusedError
from auth.sso.models import UserIdentityRow
from auth.sso.providers import identity_from_claims
from auth.sso.registry import add_provider, get_provider
from auth.users import create_user, find_user_by_email, sign_in_user
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
    oidc_config,
    opened,
    service,
)
from tests.support.oidc.nodeproc import managed_provider

ACCOUNTS = {
    "alice": {"email": "alice@acme.test"},
    "alice-github-lookalike": {"email": "alice@acme.test"},  # another subject, the same verified email
    "bob-laptop": {"email": "bob@acme.test"},
    "bob-other": {"email": "bob@acme.test"},
    "carol-corp": {"email": "carol@acme.test"},
    "carol-other": {"email": "carol@acme.test"},
    "dave": {"email": "dave@acme.test"},
    "dave-new": {"email": "dave@acme.test"},
}
INVITE_ONLY = SignInPolicy(allowed_domains=("acme.test",), jit=False)
JIT = SignInPolicy(allowed_domains=("acme.test",), jit=True)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], accounts=ACCOUNTS) as url:
        yield url


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """SQLite and MariaDB."""
    with opened(database_url, tmp_path / "data") as runtime:
        yield runtime


def invite(runtime: Runtime, email: str, role: Role = Role.MEMBER) -> User:
    with transaction(runtime.sessions) as session:
        return create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email=email, role=role)


def users(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.scalars(select(User.email)))


def links(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.sessions() as session:
        query = select(User.email, UserIdentityRow.subject).join(User, User.id == UserIdentityRow.user_id)
        return sorted((email, subject) for email, subject in session.execute(query))


def test_another_subject_with_the_same_verified_email_does_not_become_the_user(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), JIT)
    svc = service(runtime)
    alice = login_as(svc, "alice")
    with transaction(runtime.sessions) as session:  # alice is an admin with an API key
        user = session.get(User, alice.user.id)
        assert user is not None
        user.role = Role.ADMIN.value
        owner = Actor(ActorKind.USER, user.id, email=user.email)
        day = timedelta(days=1)
        create_api_key(
            session, runtime.audit, owner, tenant_id=TENANT, role=Role.ADMIN, name="ci", ttl=day, max_ttl=day
        )
    with pytest.raises(LoginRefusedError) as refused:
        login_as(svc, "alice-github-lookalike")
    assert refused.value.reason == "identity_not_linked"
    assert str(refused.value) == (
        "alice@acme.test already signs in with another account; ask your administrator to link this corp "
        "account (subject alice-github-lookalike) to alice@acme.test"
    )
    assert links(runtime) == [("alice@acme.test", "alice")]
    assert users(runtime) == ["alice@acme.test"]  # no second user either (JIT does not take a used email)
    record = json.loads(audit_rows(runtime, "auth.login.failed")[-1][1])
    assert record["reason"] == "identity_not_linked"
    assert record["actor"]["id"].endswith(":alice-github-lookalike")
    assert len(audit_rows(runtime, "auth.login.succeeded")) == 1  # no session was opened
    with runtime.sessions() as session:  # the key did not change hands
        assert [k.created_by for k in session.scalars(select(ApiKey))] == [alice.user.id]
    assert login_as(svc, "alice").user.id == alice.user.id  # the real alice still signs in


def test_an_invitation_is_claimed_once_by_the_first_account_that_signs_in(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), INVITE_ONLY)
    invited = invite(runtime, "bob@acme.test", Role.MEMBER)
    svc = service(runtime)
    first = login_as(svc, "bob-laptop")
    assert first.user.id == invited.id and first.user.role == Role.MEMBER.value
    ((_, body),) = audit_rows(runtime, "auth.user.identity.linked")
    assert json.loads(body)["details"] == {"provider": "corp", "subject": "bob-laptop", "via": "invitation"}
    with pytest.raises(LoginRefusedError) as refused:
        login_as(svc, "bob-other")
    assert refused.value.reason == "identity_not_linked"
    assert login_as(svc, "bob-laptop").user.id == invited.id
    with runtime.sessions() as session:
        bob = find_user_by_email(session, TENANT, "bob@acme.test")
        assert bob is not None and bob.first_sign_in_at is not None


def test_an_account_customer_it_linked_signs_in_and_only_it(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), INVITE_ONLY)
    carol = invite(runtime, "carol@acme.test")
    linked = link_identity(
        runtime.sessions, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, user_id=carol.id, provider="corp",
        subject="carol-corp",
    )  # fmt: skip
    assert (linked.provider, linked.subject) == ("corp", "carol-corp")
    svc = service(runtime)
    with pytest.raises(LoginRefusedError) as refused:  # the invitation is no longer open to an email match
        login_as(svc, "carol-other")
    assert refused.value.reason == "identity_not_linked"
    assert login_as(svc, "carol-corp").user.id == carol.id
    details = [json.loads(b)["details"] for _, b in audit_rows(runtime, "auth.user.identity.linked")]
    assert details == [{"provider": "corp", "subject": "carol-corp", "via": "administrator"}]


def test_unlinking_ends_the_accounts_sessions_and_its_way_in(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), JIT)
    svc = service(runtime)
    alice = login_as(svc, "alice")
    link_identity(
        runtime.sessions, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, user_id=alice.user.id, provider="corp",
        subject="alice-github-lookalike",
    )  # fmt: skip
    other = login_as(svc, "alice-github-lookalike")
    assert other.user.id == alice.user.id
    listed = list_identities(runtime.sessions, tenant_id=TENANT, user_id=alice.user.id)
    assert [(i.provider, i.subject) for i in listed] == [("corp", "alice"), ("corp", "alice-github-lookalike")]
    ended = unlink_identity(
        runtime.sessions, runtime.audit, SYSTEM_ACTOR, svc.store, tenant_id=TENANT, user_id=alice.user.id,
        provider="corp", subject="alice-github-lookalike",
    )  # fmt: skip
    assert ended == 1
    assert svc.store.lookup(other.session_token) is None
    assert svc.store.lookup(alice.session_token) is not None  # the session of her other account stays
    with pytest.raises(LoginRefusedError) as refused:
        login_as(svc, "alice-github-lookalike")
    assert refused.value.reason == "identity_not_linked"
    ((_, body),) = audit_rows(runtime, "auth.user.identity.unlinked")
    assert json.loads(body)["details"] == {"provider": "corp", "subject": "alice-github-lookalike", "sessions_ended": 1}


def test_a_recycled_address_does_not_revive_an_offboarded_user(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), JIT)
    svc = service(runtime)
    dave = login_as(svc, "dave")
    with transaction(runtime.sessions) as session:
        user = session.get(User, dave.user.id)
        assert user is not None
        user.disabled_at = utc_now()
    with pytest.raises(LoginRefusedError) as refused:
        login_as(svc, "dave-new")  # the address now belongs to someone else at the provider
    assert refused.value.reason == "user_disabled"
    assert links(runtime) == [("dave@acme.test", "dave")]


def test_linking_checks_what_it_is_given(issuer: str, runtime: Runtime) -> None:
    configure(runtime, oidc_config(issuer), INVITE_ONLY)
    erin, fay = invite(runtime, "erin@acme.test"), invite(runtime, "fay@acme.test")

    def link(user_id: str, provider: str = "corp", subject: str = "erin") -> None:
        link_identity(
            runtime.sessions, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, user_id=user_id, provider=provider,
            subject=subject,
        )  # fmt: skip

    link(erin.id)
    with pytest.raises(IdentityConflictError, match="already linked to this user"):
        link(erin.id)
    with pytest.raises(IdentityConflictError, match="another user; unlink it there first"):
        link(fay.id)
    with pytest.raises(IdentityNotFoundError, match="no sign-in provider 'nope'"):
        link(fay.id, provider="nope")
    with pytest.raises(IdentityNotFoundError, match="no user"):
        link("0" * 32)
    with pytest.raises(IdentityError, match="printable ASCII"):
        link(fay.id, subject="has space")
    with pytest.raises(IdentityNotFoundError, match="is not linked"):
        unlink_identity(
            runtime.sessions, runtime.audit, SYSTEM_ACTOR, service(runtime).store, tenant_id=TENANT,
            user_id=fay.id, provider="corp", subject="erin",
        )  # fmt: skip
    with transaction(runtime.sessions) as session:
        disabled = session.get(User, fay.id)
        assert disabled is not None
        disabled.disabled_at = utc_now()
    with pytest.raises(IdentityError, match="is disabled"):
        link(fay.id, subject="fay")
    assert len(audit_rows(runtime, "auth.user.identity.linked")) == 1


def test_subjects_are_checked_against_the_providers_shape(runtime: Runtime) -> None:
    tid, oid = "72f988bf-86f1-41af-91ab-2d7cd011db47", "00000000-0000-0000-66f3-3332eca7ea81"
    configs = [
        {"name": "gh", "kind": "github", "client_id": "x", "client_secret": "s"},
        {
            "name": "entra",
            "kind": "microsoft",
            "client_id": "x",
            "options": {"directory": tid, "allowed_tenant_ids": [tid]},
        },
    ]
    with transaction(runtime.sessions) as session:
        for config in configs:
            add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, ProviderConfig.model_validate(config))
    user = invite(runtime, "gus@acme.test")

    def link(provider: str, subject: str) -> None:
        link_identity(
            runtime.sessions, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, user_id=user.id, provider=provider,
            subject=subject,
        )  # fmt: skip

    with pytest.raises(IdentityError, match="numeric user id"):
        link("gh", "octocat")
    with pytest.raises(IdentityError, match="two lower-case GUIDs"):
        link("entra", oid)
    with pytest.raises(IdentityError, match="is not allowed"):
        link("entra", f"{'1' * 8}-1111-1111-1111-{'1' * 12}:{oid}")
    link("gh", "583231")
    link("entra", f"{tid}:{oid}")
    assert [i.provider for i in list_identities(runtime.sessions, tenant_id=TENANT, user_id=user.id)] == [
        "entra",
        "gh",
    ]


GOOGLE = {"name": "google", "kind": "google", "client_id": "x.apps.googleusercontent.com"}


@pytest.mark.parametrize(
    ("claims", "claims_it"),
    [
        ({"email": "hal@acme.test", "hd": "acme.test"}, True),  # Workspace: Google is the domain's directory
        ({"email": "hal@gmail.com"}, True),  # Gmail: Google owns the address
        ({"email": "hal@acme.test"}, False),  # a consumer account that once verified a corporate address
        ({"email": "hal@acme.test", "hd": "other.test"}, False),
    ],
)
def test_a_google_account_claims_an_invitation_only_where_google_speaks_for_the_address(
    runtime: Runtime, claims: dict[str, Any], claims_it: bool
) -> None:
    """https://developers.google.com/identity/account-linking/oauth-with-sign-in-linking"""
    email = claims["email"]
    invited = invite(runtime, email)
    identity = identity_from_claims(
        "p", ProviderConfig.model_validate(GOOGLE), {"sub": "1090", "email_verified": True, **claims}
    )
    assert identity.email_verified  # verified either way: verification is not authority
    with transaction(runtime.sessions) as session:
        add_provider(session, runtime.audit, SYSTEM_ACTOR, TENANT, ProviderConfig.model_validate(GOOGLE))
    with transaction(runtime.sessions) as session:
        tenant = session.get(Tenant, TENANT)
        provider = get_provider(session, TENANT, "google")
        assert tenant is not None and provider is not None
        identity = identity_from_claims(provider.id, ProviderConfig.model_validate(GOOGLE), identity.claims)
        if claims_it:
            user, _ = sign_in_user(session, runtime.audit, tenant, provider, identity, INVITE_ONLY_ANY_DOMAIN)
            assert user.id == invited.id
        else:
            with pytest.raises(LoginRefusedError) as refused:
                sign_in_user(session, runtime.audit, tenant, provider, identity, INVITE_ONLY_ANY_DOMAIN)
            assert refused.value.reason == "email_not_authoritative"
            assert "ask your administrator to link this google account (subject 1090)" in str(refused.value)


INVITE_ONLY_ANY_DOMAIN = SignInPolicy(jit=False)


@pytest.mark.parametrize(
    ("kind_claims", "authoritative"),
    [
        ({"email_verified": True}, True),  # the tenant's own directory (Okta, Keycloak, ...)
        ({"email_verified": False}, False),
    ],
)
def test_an_oidc_directorys_verified_email_is_its_word(kind_claims: dict[str, Any], authoritative: bool) -> None:
    config = ProviderConfig.model_validate(
        {"name": "corp", "kind": "oidc", "issuer": "https://idp.acme.test", "client_id": "x"}
    )
    identity = identity_from_claims("p", config, {"sub": "s", "email": "a@acme.test", **kind_claims})
    assert identity.email_authoritative is authoritative
