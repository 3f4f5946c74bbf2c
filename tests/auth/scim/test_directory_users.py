"""The directory's users and the Enclave users behind them: invited users created by SCIM and claimed at first
sign-in, adoption of existing users, the email rule, `active` as offboarding (and back only when the directory
disabled them), deletion as a tombstone, uniqueness, versions and If-Match, bounds — on SQLite and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    UniquenessException,
)
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, Actor, ActorKind
from auth.apikeys import create_api_key
from auth.identities import has_links
from auth.models import ApiKey, User
from auth.roles import Role
from auth.scim.directory import Page
from auth.scim.models import ScimUserRow
from auth.tenants import create_tenant
from auth.users import create_user, find_user_by_email
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from tenancy.errors import ForbiddenError
from tests.auth.scim.helpers import BASE, TENANT, audit_events, directory, patch, user_payload

ADMIN = Access.operator(TENANT, SYSTEM_ACTOR)


@pytest.fixture
def services(runtime: Runtime) -> Services:
    return Services.build(runtime)


def enclave_user(runtime: Runtime, email: str) -> User | None:
    with runtime.sessions() as session:
        return find_user_by_email(session, TENANT, email)


def signed_in_session(services: Services, email: str) -> str:
    """A live browser session of the Enclave user `email` (as after a sign-in)."""
    runtime = services.runtime
    policy = services.sso.policy(ADMIN)
    with transaction(runtime.sessions) as session:
        user = find_user_by_email(session, TENANT, email)
        assert user is not None
        token, _ = services.session_store.create(session, user, policy)
    return token


def test_a_provisioned_user_is_an_invited_user_its_first_sign_in_claims(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("ann@acme.test", email="Ann@Acme.test"), BASE)
    assert created.id is not None and created.user_name == "ann@acme.test"
    assert created.meta is not None and created.meta.version == 'W/"1"'
    assert created.meta.location == f"{BASE}/Users/{created.id}"
    user = enclave_user(services.runtime, "ann@acme.test")
    assert user is not None and user.role == Role.VIEWER.value  # the tenant's default role
    assert user.first_sign_in_at is None and user.disabled_at is None
    with services.runtime.sessions() as session:
        assert not has_links(session, user.id)  # claimable by an authoritative email at first sign-in
    (record,) = audit_events(services.runtime, "auth.user.created")
    assert record["details"]["via"] == "scim" and record["actor"]["id"] == "scim:0123456789ab"
    (scim_record,) = audit_events(services.runtime, "scim.user.created")
    assert scim_record["actor"]["kind"] == "system" and scim_record["details"]["user"] == f"user:{user.id}"
    assert "password" not in str(scim_record)


def test_the_enclave_email_is_the_primary_then_work_then_any_then_the_user_name(services: Services) -> None:
    payload = user_payload(
        "not-an-address",
        emails=[
            {"value": "home@acme.test", "type": "home"},
            {"value": "work@acme.test", "type": "work"},
            {"value": "primary@acme.test", "type": "other", "primary": True},
        ],
    )
    services.scim.create_user(directory(), payload, BASE)
    assert enclave_user(services.runtime, "primary@acme.test") is not None
    services.scim.create_user(
        directory(), user_payload("entra-upn", emails=[{"value": "w2@acme.test", "type": "work"}]), BASE
    )
    assert enclave_user(services.runtime, "w2@acme.test") is not None
    services.scim.create_user(directory(), user_payload("upn@acme.test"), BASE)
    assert enclave_user(services.runtime, "upn@acme.test") is not None


def test_a_user_without_any_address_has_no_enclave_account_until_the_directory_gives_one(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("jdoe"), BASE)
    assert created.id is not None
    with services.runtime.sessions() as session:
        row = session.get(ScimUserRow, created.id)
        assert row is not None and row.user_id is None
    services.scim.patch_user(
        directory(),
        created.id,
        patch({"op": "add", "path": "emails", "value": [{"value": "jdoe@acme.test", "type": "work"}]}),
        BASE,
        None,
    )
    user = enclave_user(services.runtime, "jdoe@acme.test")
    assert user is not None
    with services.runtime.sessions() as session:
        row = session.get(ScimUserRow, created.id)
        assert row is not None and row.user_id == user.id


def test_user_names_are_unique_without_case(services: Services) -> None:
    services.scim.create_user(directory(), user_payload("Bob@Acme.test"), BASE)
    with pytest.raises(UniquenessException):
        services.scim.create_user(directory(), user_payload("bob@acme.TEST"), BASE)
    with pytest.raises(UniquenessException, match="another user of the directory has the email"):
        services.scim.create_user(directory(), user_payload("other", email="bob@acme.test"), BASE)


def test_an_existing_enclave_user_is_adopted_and_keeps_its_id(services: Services) -> None:
    invited = services.users.invite(ADMIN, email="cy@acme.test", role=Role.AUDITOR)
    services.scim.create_user(directory(), user_payload("cy@acme.test"), BASE)
    user = enclave_user(services.runtime, "cy@acme.test")
    assert user is not None and user.id == invited.id and user.role == Role.AUDITOR.value  # no groups pushed yet
    (record,) = audit_events(services.runtime, "scim.user.created")
    assert record["details"]["user"] == f"user:{invited.id}"


def test_an_email_an_administrator_offboarded_is_not_the_directorys_to_bring_back(services: Services) -> None:
    gone = services.users.invite(ADMIN, email="dee@acme.test", role=Role.MEMBER)
    services.users.offboard(ADMIN, gone.id)
    with pytest.raises(UniquenessException, match="an administrator offboarded"):
        services.scim.create_user(directory(), user_payload("dee@acme.test"), BASE)
    user = enclave_user(services.runtime, "dee@acme.test")
    assert user is not None and user.disabled_at is not None


def test_active_false_offboards_like_an_administrator_and_true_brings_back_what_it_disabled(services: Services) -> None:
    runtime = services.runtime
    created = services.scim.create_user(directory(), user_payload("eve@acme.test"), BASE)
    assert created.id is not None
    session_token = signed_in_session(services, "eve@acme.test")
    user = enclave_user(runtime, "eve@acme.test")
    assert user is not None
    with transaction(runtime.sessions) as session:
        create_api_key(
            session,
            runtime.audit,
            Actor(ActorKind.USER, user.id),
            tenant_id=TENANT,
            role=Role.VIEWER,
            name="eve script",
            ttl=timedelta(days=1),
            max_ttl=timedelta(days=2),
        )
    deactivated = services.scim.patch_user(
        directory(), created.id, patch({"op": "replace", "value": {"active": False}}), BASE, None
    )
    assert deactivated.active is False
    user = enclave_user(runtime, "eve@acme.test")
    assert user is not None and user.disabled_at is not None
    assert services.session_store.lookup(session_token) is None
    with runtime.sessions() as session:
        keys = session.scalars(select(ApiKey).where(ApiKey.created_by == user.id)).all()
        assert keys and all(key.revoked_at is not None for key in keys)
    (offboarded,) = audit_events(runtime, "auth.user.offboarded")
    assert offboarded["actor"]["id"] == "scim:0123456789ab"
    assert offboarded["details"]["email"] == "eve@acme.test" and offboarded["details"]["sessions_ended"] == 1
    # sending it again changes nothing and offboards nobody twice
    services.scim.patch_user(
        directory(), created.id, patch({"op": "replace", "path": "active", "value": False}), BASE, None
    )
    assert len(audit_events(runtime, "auth.user.offboarded")) == 1
    services.scim.patch_user(
        directory(), created.id, patch({"op": "replace", "path": "active", "value": True}), BASE, None
    )
    user = enclave_user(runtime, "eve@acme.test")
    assert user is not None and user.disabled_at is None
    (enabled,) = audit_events(runtime, "auth.user.enabled")
    assert enabled["target"] == f"user:{user.id}"


def test_the_directory_cannot_undo_an_administrators_offboarding(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("fay@acme.test"), BASE)
    assert created.id is not None
    services.scim.patch_user(
        directory(), created.id, patch({"op": "replace", "path": "active", "value": False}), BASE, None
    )
    user = enclave_user(services.runtime, "fay@acme.test")
    assert user is not None
    services.users.offboard(ADMIN, user.id)  # the administrator's own decision, after the directory's
    services.scim.patch_user(
        directory(), created.id, patch({"op": "replace", "path": "active", "value": True}), BASE, None
    )
    user = enclave_user(services.runtime, "fay@acme.test")
    assert user is not None and user.disabled_at is not None
    assert audit_events(services.runtime, "auth.user.enabled") == []


def test_deletion_offboards_leaves_a_tombstone_and_re_creation_brings_the_person_back(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("gus@acme.test", externalId="00u1"), BASE)
    assert created.id is not None
    services.scim.delete_user(directory(), created.id, None)
    with pytest.raises(NotFoundException):
        services.scim.user(directory(), created.id, BASE)
    user = enclave_user(services.runtime, "gus@acme.test")
    assert user is not None and user.disabled_at is not None
    with services.runtime.sessions() as session:
        tombstone = session.get(ScimUserRow, created.id)
        assert tombstone is not None and tombstone.deleted_at is not None
        assert tombstone.user_name_key is None and tombstone.external_id is None and tombstone.attributes == "{}"
    again = services.scim.create_user(directory(), user_payload("gus@acme.test", externalId="00u1"), BASE)
    assert again.id != created.id
    revived = enclave_user(services.runtime, "gus@acme.test")
    assert revived is not None and revived.id == user.id and revived.disabled_at is None


def test_put_keeps_read_only_attributes_and_refuses_nothing_the_directory_may_set(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("hal@acme.test", displayName="Hal"), BASE)
    assert created.id is not None
    replaced = services.scim.replace_user(
        directory(),
        created.id,
        user_payload("hal@acme.test", id="something-else", displayName="Hal Jordan", meta={"resourceType": "User"}),
        BASE,
        None,
    )
    assert replaced.id == created.id and replaced.display_name == "Hal Jordan"
    assert replaced.meta is not None and replaced.meta.version == 'W/"2"'
    user = enclave_user(services.runtime, "hal@acme.test")
    assert user is not None and user.display_name == "Hal Jordan"
    unchanged = services.scim.replace_user(
        directory(), created.id, user_payload("hal@acme.test", displayName="Hal Jordan"), BASE, None
    )
    assert unchanged.meta is not None and unchanged.meta.version == 'W/"2"'  # no change, no new version


def test_if_match_applies_a_write_to_the_version_it_names_only(services: Services) -> None:
    created = services.scim.create_user(directory(), user_payload("ida@acme.test"), BASE)
    assert created.id is not None
    rename = patch({"op": "replace", "path": "displayName", "value": "Ida"})
    with pytest.raises(PreconditionFailedException):
        services.scim.patch_user(directory(), created.id, rename, BASE, 'W/"7"')
    services.scim.patch_user(directory(), created.id, rename, BASE, '"1"')  # weak comparison (RFC 7644 §3.14)
    with pytest.raises(PreconditionFailedException):
        services.scim.delete_user(directory(), created.id, 'W/"1"')
    services.scim.delete_user(directory(), created.id, "*")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (user_payload("x" * 257), InvalidValueException),
        (user_payload("tab\there"), InvalidValueException),
        (user_payload("   "), InvalidValueException),
        (user_payload("many", emails=[{"value": f"e{i}@acme.test"} for i in range(21)]), InvalidValueException),
        (user_payload("big", displayName="d" * 257), InvalidValueException),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, InvalidValueException),  # no userName
    ],
)
def test_bad_users_are_refused_and_nothing_is_stored(services: Services, payload: object, error: type) -> None:
    with pytest.raises(error):
        services.scim.create_user(directory(), payload, BASE)
    with services.runtime.sessions() as session:
        assert session.scalars(select(ScimUserRow)).first() is None
    assert audit_events(services.runtime, "scim.user.created") == []


def test_read_only_attributes_a_directory_sends_are_ignored(services: Services) -> None:
    """RFC 7644 §3.3: read-only attributes in a creation request SHALL be ignored (Okta sends `groups: []`)."""
    created = services.scim.create_user(
        directory(), user_payload("ro@acme.test", id="mine", groups=[{"value": "g"}], meta={"version": 'W/"9"'}), BASE
    )
    assert created.id != "mine" and created.groups is None
    assert created.meta is not None and created.meta.version == 'W/"1"'


def test_another_tenants_directory_sees_none_of_these_users(services: Services) -> None:
    with transaction(services.runtime.sessions) as session:
        create_tenant(session, services.runtime.audit, SYSTEM_ACTOR, "globex")
    created = services.scim.create_user(directory(), user_payload("ike@acme.test"), BASE)
    assert created.id is not None
    with pytest.raises(NotFoundException):
        services.scim.user(directory("globex"), created.id, BASE)
    with pytest.raises(NotFoundException):
        services.scim.delete_user(directory("globex"), created.id, None)
    assert services.scim.list_users(directory("globex"), None, Page(1, 50), BASE).total == 0
    # and a user with the same email in another tenant is another person
    services.scim.create_user(directory("globex"), user_payload("ike@acme.test"), BASE)
    with services.runtime.sessions() as session:
        assert len(session.scalars(select(User).where(User.email == "ike@acme.test")).all()) == 2


def test_the_scim_use_cases_need_the_scim_permission(services: Services) -> None:
    with pytest.raises(ForbiddenError):
        services.scim.create_user(ADMIN, user_payload("jo@acme.test"), BASE)  # an administrator is no directory
    with pytest.raises(ForbiddenError):
        services.scim.tokens(directory())  # and the directory manages no tokens


def test_a_user_invited_by_hand_is_no_directory_user_until_the_directory_says_so(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        create_user(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email="kim@acme.test", role=Role.MEMBER)
    services = Services.build(runtime)
    page = services.scim.list_users(directory(), None, Page(1, 50), BASE)
    assert page.total == 0
