"""GitHub sign-in with recorded API responses (shapes from GitHub's REST documentation): the identity is the
numeric user id; the email only a verified primary one; optional org and team membership."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.events import SYSTEM_ACTOR
from auth.roles import Role
from auth.sso.config import ProviderConfig, SignInPolicy
from auth.sso.errors import LoginRefusedError
from auth.users import create_user
from enclave.db import transaction
from enclave.runtime import Runtime
from tests.auth.sso.helpers import CLIENT_ID, CLIENT_SECRET, audit_rows, configure, opened, service, sign_in
from tests.auth.sso.recorded import Recording, recorded_server

USER = {"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User", "name": "The Octocat"}
EMAILS = [
    {"email": "octocat@users.noreply.github.com", "verified": True, "primary": False, "visibility": None},
    {"email": "octocat@acme.test", "verified": True, "primary": True, "visibility": "public"},
]
TOKEN = {
    "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "token_type": "bearer",
    "scope": "read:org,user:email",
}
ACTIVE = {"state": "active", "role": "member", "organization": {"login": "acme", "id": 1}}


@pytest.fixture
def github() -> Iterator[Recording]:
    with recorded_server() as recording:
        recording.answer("POST", "/login/oauth/access_token", 200, TOKEN)
        recording.answer("GET", "/user", 200, USER)
        recording.answer("GET", "/user/emails", 200, EMAILS)
        yield recording


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data") as runtime:
        yield runtime


def github_config(base: str, **options: Any) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {
            "name": "corp",
            "kind": "github",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "options": {"api_url": base, "web_url": base, **options},
        }
    )


def test_identity_is_the_numeric_id_and_the_verified_primary_email(github: Recording, runtime: Runtime) -> None:
    configure(runtime, github_config(github.base))
    result = sign_in(service(runtime))
    assert result.user.email == "octocat@acme.test"
    with runtime.sessions() as session:
        from auth.sso.models import UserIdentityRow

        link = session.query(UserIdentityRow).one()
    assert link.subject == "583231"
    api_calls = [(m, p) for m, p, _ in github.requests]
    assert ("POST", "/login/oauth/access_token") in api_calls
    assert all(
        h.get("Authorization", "").startswith("Bearer gho_") for m, p, h in github.requests if p.startswith("/user")
    )


@pytest.mark.parametrize(
    "emails",
    [
        [{"email": "octocat@acme.test", "verified": False, "primary": True}],  # unverified primary
        [{"email": "octocat@acme.test", "verified": True, "primary": False}],  # verified, not primary
        [],
    ],
    ids=["unverified", "not-primary", "none"],
)
def test_no_verified_primary_email_is_refused(
    github: Recording, runtime: Runtime, emails: list[dict[str, Any]]
) -> None:
    github.answer("GET", "/user/emails", 200, emails)
    configure(runtime, github_config(github.base))
    with pytest.raises(LoginRefusedError) as refused:
        sign_in(service(runtime))
    assert refused.value.reason == "email_not_verified"
    assert len(audit_rows(runtime, "auth.login.failed")) == 1


def test_required_org_membership(github: Recording, runtime: Runtime) -> None:
    configure(runtime, github_config(github.base, required_org="acme"))
    with pytest.raises(LoginRefusedError) as refused:  # the membership endpoint answers 404: not a member
        sign_in(service(runtime))
    assert refused.value.reason == "org_required"
    github.answer("GET", "/user/memberships/orgs/acme", 200, {**ACTIVE, "state": "pending"})
    with pytest.raises(LoginRefusedError, match="not an active member"):
        sign_in(service(runtime))
    github.answer("GET", "/user/memberships/orgs/acme", 200, ACTIVE)
    assert sign_in(service(runtime)).user.email == "octocat@acme.test"


def test_required_team_membership(github: Recording, runtime: Runtime) -> None:
    github.answer("GET", "/user/memberships/orgs/acme", 200, ACTIVE)
    configure(runtime, github_config(github.base, required_org="acme", required_team="security"))
    with pytest.raises(LoginRefusedError) as refused:
        sign_in(service(runtime))
    assert refused.value.reason == "team_required"
    github.answer("GET", "/orgs/acme/teams/security/memberships/octocat", 200, {"state": "active", "role": "member"})
    assert sign_in(service(runtime)).user.email == "octocat@acme.test"


def test_github_errors_are_refusals_not_crashes(github: Recording, runtime: Runtime) -> None:
    github.answer("GET", "/user", 500, {"message": "Server Error"})
    configure(runtime, github_config(github.base))
    with pytest.raises(LoginRefusedError) as refused:
        sign_in(service(runtime))
    assert refused.value.reason == "provider_unavailable"
    github.answer("POST", "/login/oauth/access_token", 200, {"error": "bad_verification_code"})
    with pytest.raises(LoginRefusedError) as bad_code:
        sign_in(service(runtime))
    assert bad_code.value.reason == "code_rejected"


def test_github_config_needs_a_secret_and_org_for_team() -> None:
    with pytest.raises(ValueError, match="client secret"):
        ProviderConfig.model_validate({"name": "gh", "kind": "github", "client_id": "x"})
    with pytest.raises(ValueError, match="required_team needs required_org"):
        ProviderConfig.model_validate(
            {"name": "gh", "kind": "github", "client_id": "x", "client_secret": "y", "options": {"required_team": "t"}}
        )


def test_leaving_the_organisation_or_revoking_the_app_ends_the_session_at_revalidation(
    github: Recording, runtime: Runtime
) -> None:
    """GitHub has no refresh tokens: re-validation asks its API again with the user's token, which GitHub keeps
    valid until it is revoked (https://docs.github.com/en/apps/oauth-apps)."""
    github.answer("GET", "/user/memberships/orgs/acme", 200, ACTIVE)
    policy = SignInPolicy(allowed_domains=("acme.test",), jit=True, revalidate_seconds=300)
    configure(runtime, github_config(github.base, required_org="acme"), policy)
    svc = service(runtime)
    first, second = sign_in(svc), sign_in(svc)
    assert first.session.revalidate_at is not None
    due = first.session.revalidate_at + timedelta(seconds=1)
    still = svc.store.lookup(first.session_token, due)
    assert still is not None and still.revalidate_at is not None and still.revalidate_at > due  # asked, fine
    assert sum(1 for _, p, _ in github.requests if p == "/user/memberships/orgs/acme") == 3
    github.answer("GET", "/user/memberships/orgs/acme", 404, {"message": "Not Found"})  # removed from acme
    assert svc.store.lookup(second.session_token, due) is None
    github.answer("GET", "/user/memberships/orgs/acme", 200, ACTIVE)
    github.answer("GET", "/user", 401, {"message": "Bad credentials"})  # the user revoked the app
    later = still.revalidate_at + timedelta(seconds=1)
    assert svc.store.lookup(first.session_token, later) is None
    reasons = [json.loads(body)["reason"] for _, body in audit_rows(runtime, "auth.session.revoked")]
    assert reasons == ["re-validation: org_required", "re-validation: token_revoked"]
    bodies = b"".join(body for _, body in audit_rows(runtime, "auth.session.revoked"))
    assert TOKEN["access_token"].encode() not in bodies


@pytest.mark.parametrize(("options", "claimed"), [({}, False), ({"required_org": "acme"}, True)])
def test_an_invitation_is_claimed_by_a_github_email_only_where_an_organisation_vouches(
    github: Recording, runtime: Runtime, options: dict[str, Any], claimed: bool
) -> None:
    """GitHub's "verified" says the account once received mail at the address; it does not speak for the
    domain. Without a required organisation anyone who ever verified the address could claim the invitation."""
    github.answer("GET", "/user/memberships/orgs/acme", 200, ACTIVE)
    configure(runtime, github_config(github.base, **options), SignInPolicy(jit=False))
    with transaction(runtime.sessions) as session:
        invited = create_user(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email="octocat@acme.test", role=Role.MEMBER
        )
    if claimed:
        assert sign_in(service(runtime)).user.id == invited.id
        return
    with pytest.raises(LoginRefusedError) as refused:
        sign_in(service(runtime))
    assert refused.value.reason == "email_not_authoritative"
    assert "link this corp account (subject 583231) to octocat@acme.test" in str(refused.value)
