"""Directory groups give roles through the tenant's role mapping (the one its SSO claims use): the most
privileged mapped group wins, leaving a group (a member removed, the group renamed or deleted) takes its role
away at once and live sessions carry the change from their next request; a directory user's sign-in takes its
role from the directory's groups, never from a token's claims, while everyone else's comes from the claims."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import InvalidValueException, UniquenessException

from audit.events import SYSTEM_ACTOR
from auth.models import Tenant, User
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.users import create_user, find_user_by_email, user_role
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from tenancy.errors import ForbiddenError
from tests.auth.scim.helpers import BASE, MAPPED, TENANT, audit_events, directory, map_roles, patch, user_payload


@pytest.fixture
def services(runtime: Runtime) -> Services:
    map_roles(runtime)
    return Services.build(runtime)


def role_of(services: Services, email: str) -> str:
    with services.runtime.sessions() as session:
        user = find_user_by_email(session, TENANT, email)
        assert user is not None
        return user.role


def provision(services: Services, email: str) -> str:
    created = services.scim.create_user(directory(), user_payload(email), BASE)
    assert created.id is not None
    return created.id


def group(services: Services, name: str, *members: str) -> str:
    created = services.scim.create_group(
        directory(), {"displayName": name, "members": [{"value": m} for m in members]}, BASE
    )
    assert created.id is not None
    return created.id


def live_session(services: Services, email: str) -> str:
    policy = services.sso.policy(Access.operator(TENANT, SYSTEM_ACTOR))
    with transaction(services.runtime.sessions) as session:
        user = find_user_by_email(session, TENANT, email)
        assert user is not None
        token, _ = services.session_store.create(session, user, policy)
    return token


def session_role(services: Services, token: str) -> Role | None:
    active = services.session_store.lookup(token)
    assert active is not None
    return active.role


def test_membership_maps_to_roles_and_leaving_takes_them_away_from_live_sessions(services: Services) -> None:
    ann = provision(services, "ann@acme.test")
    token = live_session(services, "ann@acme.test")
    admins = group(services, "Enclave Admins", ann)
    staff = group(services, "Staff", ann)
    assert role_of(services, "ann@acme.test") == Role.ADMIN.value  # the most privileged mapped group
    assert session_role(services, token) is Role.ADMIN
    changed = audit_events(services.runtime, "auth.user.role.changed")
    assert changed[-1]["details"] == {
        "from": "viewer",
        "to": "admin",
        "why": "directory group membership maps to admin",
    }
    services.scim.patch_group(
        directory(), admins, patch({"op": "remove", "path": f'members[value eq "{ann}"]'}), BASE, None
    )
    assert role_of(services, "ann@acme.test") == Role.MEMBER.value
    assert session_role(services, token) is Role.MEMBER  # at once, in the live session
    services.scim.patch_group(
        directory(), staff, patch({"op": "Remove", "path": "members", "value": [{"value": ann}]}), BASE, None
    )
    assert role_of(services, "ann@acme.test") == Role.VIEWER.value  # no mapped group: the default role
    removed = audit_events(services.runtime, "scim.group.member.removed")
    assert [r["target"] for r in removed] == [f"scim-group:{admins}", f"scim-group:{staff}"]
    assert all(r["details"]["member"] == f"scim-user:{ann}" for r in removed)


def test_renaming_or_deleting_a_group_recomputes_its_members(services: Services) -> None:
    bob = provision(services, "bob@acme.test")
    admins = group(services, "Enclave Admins", bob)
    assert role_of(services, "bob@acme.test") == Role.ADMIN.value
    services.scim.patch_group(
        directory(), admins, patch({"op": "Replace", "path": "displayName", "value": "Ex-Admins"}), BASE, None
    )
    assert role_of(services, "bob@acme.test") == Role.VIEWER.value
    services.scim.patch_group(
        directory(), admins, patch({"op": "replace", "value": {"displayName": "Auditors"}}), BASE, None
    )
    assert role_of(services, "bob@acme.test") == Role.AUDITOR.value
    services.scim.delete_group(directory(), admins, None)
    assert role_of(services, "bob@acme.test") == Role.VIEWER.value
    (deleted,) = audit_events(services.runtime, "scim.group.deleted")
    assert deleted["details"]["members"] == 1


def test_a_directory_users_sign_in_takes_its_role_from_the_directory_not_the_claims(services: Services) -> None:
    cy = provision(services, "cy@acme.test")
    group(services, "Staff", cy)
    with transaction(services.runtime.sessions) as session:
        hand_made = create_user(
            session, services.runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email="dan@acme.test", role=Role.VIEWER
        )
    with services.runtime.sessions() as session:
        tenant = session.get(Tenant, TENANT)
        cy_user = find_user_by_email(session, TENANT, "cy@acme.test")
        assert tenant is not None and cy_user is not None
        claims: dict[str, Any] = {"groups": ["Enclave Admins"]}  # a token that says more than the directory
        assert user_role(session, MAPPED, tenant, cy_user.id, claims) == (
            Role.MEMBER,
            "directory group membership maps to member",
        )
        assert user_role(session, MAPPED, tenant, hand_made.id, claims) == (Role.ADMIN, "claim groups maps to admin")
        assert user_role(session, SignInPolicy(), tenant, cy_user.id, claims) is None  # no mapping: administrators'


def test_until_the_directory_pushes_a_group_the_claims_decide(runtime: Runtime) -> None:
    map_roles(runtime)
    services = Services.build(runtime)
    provision(services, "eve@acme.test")
    with services.runtime.sessions() as session:
        tenant = session.get(Tenant, TENANT)
        eve = find_user_by_email(session, TENANT, "eve@acme.test")
        assert tenant is not None and eve is not None
        assert user_role(session, MAPPED, tenant, eve.id, {"groups": ["Auditors"]}) == (
            Role.AUDITOR,
            "claim groups maps to auditor",
        )


def test_without_a_role_mapping_membership_changes_no_role(runtime: Runtime) -> None:
    services = Services.build(runtime)
    fay = provision(services, "fay@acme.test")
    group(services, "Enclave Admins", fay)
    assert role_of(services, "fay@acme.test") == Role.VIEWER.value
    assert audit_events(runtime, "auth.user.role.changed") == []


def test_a_user_joining_a_tenant_whose_directory_pushes_groups_gets_the_default_role(services: Services) -> None:
    group(services, "Enclave Admins")
    services.users.invite(Access.operator(TENANT, SYSTEM_ACTOR), email="gil@acme.test", role=Role.ADMIN)
    provision(services, "gil@acme.test")  # adopted: the directory's groups decide from now on
    assert role_of(services, "gil@acme.test") == Role.VIEWER.value


def test_members_are_users_of_this_directory_and_group_names_unique(services: Services) -> None:
    hal = provision(services, "hal@acme.test")
    staff = group(services, "Staff", hal)
    with pytest.raises(InvalidValueException, match="not users of this directory"):
        group(services, "Others", "0" * 32)
    with pytest.raises(InvalidValueException, match="nested groups"):
        services.scim.create_group(
            directory(), {"displayName": "Nest", "members": [{"value": staff, "type": "Group"}]}, BASE
        )
    with pytest.raises(UniquenessException):
        group(services, "STAFF")
    with pytest.raises(InvalidValueException):
        services.scim.create_group(directory(), {"displayName": " "}, BASE)


def test_a_deleted_user_leaves_its_groups(services: Services) -> None:
    ida = provision(services, "ida@acme.test")
    staff = group(services, "Staff", ida)
    before = services.scim.group(directory(), staff, BASE)
    services.scim.delete_user(directory(), ida, None)
    after = services.scim.group(directory(), staff, BASE)
    assert after.members is None
    assert before.meta is not None and after.meta is not None and after.meta.version != before.meta.version
    (removed,) = audit_events(services.runtime, "scim.group.member.removed")
    assert removed["reason"] == "the user was deleted"


def test_a_membership_change_is_a_new_version_of_the_user(services: Services) -> None:
    jo = provision(services, "jo@acme.test")
    before = services.scim.user(directory(), jo, BASE)
    group(services, "Staff", jo)
    after = services.scim.user(directory(), jo, BASE)
    assert before.meta is not None and after.meta is not None
    assert (before.meta.version, after.meta.version) == ('W/"1"', 'W/"2"')
    assert after.groups is not None and [g.display for g in after.groups] == ["Staff"]


def test_group_patches_apply_whole_or_not_at_all(services: Services) -> None:
    kim = provision(services, "kim@acme.test")
    staff = group(services, "Staff", kim)
    with pytest.raises(InvalidValueException):
        services.scim.patch_group(
            directory(),
            staff,
            patch(
                {"op": "replace", "path": "displayName", "value": "Enclave Admins"},
                {"op": "add", "path": "members", "value": [{"value": "f" * 32}]},  # no such user: all refused
            ),
            BASE,
            None,
        )
    kept = services.scim.group(directory(), staff, BASE)
    assert kept.display_name == "Staff" and role_of(services, "kim@acme.test") == Role.MEMBER.value
    with services.runtime.sessions() as session:
        assert session.query(User).filter_by(email="kim@acme.test").one().role == Role.MEMBER.value


def test_customer_it_sees_which_users_the_directory_manages(services: Services) -> None:
    admin = Access.operator(TENANT, SYSTEM_ACTOR)
    lee = provision(services, "lee@acme.test")
    provision(services, "no-address")  # not an Enclave user
    group(services, "Staff", lee)
    group(services, "Auditors", lee)
    services.users.invite(admin, email="hand@acme.test", role=Role.MEMBER)
    with services.runtime.sessions() as session:
        user = find_user_by_email(session, TENANT, "lee@acme.test")
        assert user is not None
    managed = services.scim.managed_users(admin)
    assert list(managed) == [user.id]
    assert managed[user.id].scim_id == lee and managed[user.id].groups == ["Auditors", "Staff"]
    status = services.scim.status(admin)
    assert (status.users, status.enclave_users, status.groups) == (2, 1, 2)
    assert status.last_change is not None
    with pytest.raises(ForbiddenError):
        services.scim.managed_users(directory())
