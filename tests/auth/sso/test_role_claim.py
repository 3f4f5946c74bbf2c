"""A mapped role is the identity provider's to give and to take away: with a role claim configured the role is
recomputed at every sign-in (no mapped value, or no claim at all: the tenant's default role), audited as a
role change with the reason, and the change reaches the user's live sessions at once. No role is read from a
claim the user controls. Against a real OpenID Provider whose groups the test changes (node oidc-provider)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audit.events import SYSTEM_ACTOR
from auth.models import User
from auth.roles import Role
from auth.sso.config import ProviderConfig, SignInPolicy, role_claim_warnings
from auth.sso.errors import LoginRefusedError, SsoConfigError
from auth.sso.models import SignInPolicyRow
from auth.sso.registry import get_policy
from auth.users import policy_role, set_role
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

POLICY = SignInPolicy(
    allowed_domains=("acme.test",),
    jit=True,
    role_claim="groups",
    role_map={"admins": Role.ADMIN, "staff": Role.MEMBER},
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    accounts = {"root@acme.test": {"groups": ["admins", "staff"]}}
    with managed_provider(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], accounts=accounts) as url:
        yield url


@pytest.fixture
def runtime(tmp_path: Path, issuer: str) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data") as runtime:
        config = oidc_config(issuer)
        configure(
            runtime,
            config.model_copy(update={"options": config.options.model_copy(update={"scopes": ("groups",)})}),
            POLICY,
        )
        yield runtime


def set_groups(issuer: str, login: str, groups: list[str]) -> None:
    httpx.post(f"{issuer}/_admin/account", json={"login": login, "groups": groups}).raise_for_status()


def test_leaving_the_mapped_group_takes_the_role_away_everywhere(issuer: str, runtime: Runtime) -> None:
    set_groups(issuer, "root@acme.test", ["admins", "staff"])
    svc = service(runtime)
    laptop = login_as(svc, "root@acme.test")
    assert laptop.user.role == Role.ADMIN.value
    set_groups(issuer, "root@acme.test", ["staff"])  # IT removes root from the admins group
    phone = login_as(svc, "root@acme.test")
    assert phone.user.role == Role.MEMBER.value
    older = svc.store.lookup(laptop.session_token)  # the session opened as admin sees it at once
    assert older is not None and older.role is Role.MEMBER
    set_groups(issuer, "root@acme.test", [])  # and out of every mapped group: the default role
    assert login_as(svc, "root@acme.test").user.role == Role.VIEWER.value
    changes = [json.loads(b)["details"] for _, b in audit_rows(runtime, "auth.user.role.changed")]
    assert changes == [
        {"from": "admin", "to": "member", "why": "claim groups maps to member"},
        {"from": "member", "to": "viewer", "why": "claim groups maps to no role: the default role"},
    ]
    set_groups(issuer, "root@acme.test", ["admins", "staff"])


def test_an_administrators_role_change_yields_to_the_claim_at_the_next_sign_in(issuer: str, runtime: Runtime) -> None:
    """With a role claim the provider is the source of truth: a role set by hand lasts until the next sign-in."""
    set_groups(issuer, "ann@acme.test", ["staff"])
    svc = service(runtime)
    ann = login_as(svc, "ann@acme.test")
    assert ann.user.role == Role.MEMBER.value
    with transaction(runtime.sessions) as session:
        user = session.get(User, ann.user.id)
        assert user is not None
        set_role(session, runtime.audit, SYSTEM_ACTOR, user, Role.ADMIN, why="administrator")
    assert login_as(svc, "ann@acme.test").user.role == Role.MEMBER.value


def test_a_stored_policy_mapping_a_user_controlled_claim_stops_sign_in(issuer: str, runtime: Runtime) -> None:
    """A policy stored before the rule existed (role_claim = email) is not silently honoured."""
    with transaction(runtime.sessions) as session:
        row = session.get(SignInPolicyRow, TENANT)
        assert row is not None
        row.role_claim, row.role_map = "email", {"root@acme.test": "admin"}
    with runtime.sessions() as session, pytest.raises(SsoConfigError, match="must be set again"):
        get_policy(session, TENANT)
    with pytest.raises(LoginRefusedError) as refused:
        login_as(service(runtime), "root@acme.test")
    assert refused.value.reason == "policy_invalid"


@pytest.mark.parametrize(
    "claim",
    [
        "name", "email", "preferred_username", "nickname", "given_name", "family_name", "login", "sub", "upn",
        "unique_name", "EMAIL", "email.domain", "website",
    ],
)  # fmt: skip
def test_a_claim_the_user_controls_cannot_carry_roles(claim: str) -> None:
    with pytest.raises(ValueError, match="not one the identity provider's administrator controls"):
        SignInPolicy(role_claim=claim, role_map={"x": Role.ADMIN})


@pytest.mark.parametrize("claim", ["groups", "roles", "wids", "realm_access.roles", "https://acme.test/roles"])
def test_claims_the_idp_administrator_assigns_can(claim: str) -> None:
    assert SignInPolicy(role_claim=claim, role_map={"x": Role.ADMIN}).role_claim == claim


def test_nested_claims_map_and_the_most_privileged_wins() -> None:
    policy = SignInPolicy(role_claim="realm_access.roles", role_map={"auditors": Role.AUDITOR, "ops": Role.ADMIN})
    keycloak_claims = {"realm_access": {"roles": ["offline_access", "auditors", "ops"]}}
    assert policy_role(policy, keycloak_claims, Role.VIEWER) == (Role.ADMIN, "claim realm_access.roles maps to admin")
    assert policy_role(policy, {}, Role.VIEWER) == (Role.VIEWER, "claim realm_access.roles absent: the default role")
    assert policy_role(SignInPolicy(), keycloak_claims, Role.VIEWER) is None  # no claim configured


def test_warnings_name_providers_whose_tokens_will_not_carry_the_claim() -> None:
    def provider(config: dict[str, object]) -> ProviderConfig:
        return ProviderConfig.model_validate({"client_id": "x", "client_secret": "s", **config})

    entra_options = {"directory": "common", "allowed_tenant_ids": ["72f988bf-86f1-41af-91ab-2d7cd011db47"]}
    providers = [
        provider({"name": "okta", "kind": "oidc", "issuer": "https://acme.okta.com"}),
        provider({"name": "kc", "kind": "keycloak", "issuer": "https://kc.test/r", "options": {"scopes": ["groups"]}}),
        provider({"name": "google", "kind": "google"}),
        provider({"name": "gh", "kind": "github"}),
        provider({"name": "entra", "kind": "microsoft", "options": entra_options}),
    ]
    warnings = role_claim_warnings(SignInPolicy(role_claim="groups", role_map={}), providers)
    assert [w.split(":", 1)[0] for w in warnings] == [
        "provider 'okta' (oidc)",
        "provider 'google' (google)",
        "provider 'gh' (github)",
    ]
    assert "--scope groups" in warnings[0]
    entra = role_claim_warnings(SignInPolicy(role_claim="department", role_map={}), providers[4:])
    assert len(entra) == 1 and "optional claim" in entra[0]
    assert role_claim_warnings(SignInPolicy(), providers) == []
