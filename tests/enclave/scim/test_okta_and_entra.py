"""The requests Okta's and Entra ID's SCIM clients send, exactly as their documentation shows them
(tests/auth/scim/recorded.py, with sources), over HTTP, in the order their provisioning sends them — and what
each does to the Enclave user: invited, renamed, re-addressed, given and stripped of roles, offboarded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auth.models import User
from auth.roles import Role
from auth.sso.config import SignInPolicy
from auth.users import find_user_by_email
from enclave.app import create_app
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.scim import recorded
from tests.auth.scim.helpers import audit_events, map_roles, with_ids
from tests.conftest import make_settings
from tests.support.scim import issue_scim_token

ORIGIN = "https://acme.example.com"


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, str]]:
    runtime = Runtime.open(make_settings(database_url, tmp_path / "data", public_url=ORIGIN))
    map_roles(
        runtime, SignInPolicy(role_claim="groups", role_map={"displayName": Role.ADMIN, "Test SCIMv2": Role.AUDITOR})
    )
    with TestClient(create_app(Services.build(runtime)), base_url=f"{ORIGIN}/scim/v2") as client:
        yield runtime, client, issue_scim_token(runtime)
    runtime.close()


def okta(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "User-Agent": recorded.OKTA_USER_AGENT,
        "Content-Type": "application/json",
    }


def entra(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}


def enclave_user(runtime: Runtime, email: str) -> User:
    with runtime.sessions() as session:
        user = find_user_by_email(session, "acme", email)
    assert user is not None, email
    return user


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def test_okta_provisions_updates_pushes_groups_and_deactivates(gateway: tuple[Runtime, TestClient, str]) -> None:
    runtime, client, token = gateway
    headers = okta(token)
    query = {"filter": recorded.OKTA_FIND_USER, "startIndex": 1, "count": 100}
    assert ok(client.get("/Users", params=query, headers=headers))["totalResults"] == 0
    created = ok(client.post("/Users", json=recorded.OKTA_CREATE_USER, headers=headers), 201)
    assert created["userName"] == "test.user@okta.local" and created["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert "password" not in created and "locale" not in created  # not kept (docs/scim.md)
    user = enclave_user(runtime, "test.user@okta.local")
    assert user.display_name == "Test User" and user.first_sign_in_at is None and user.disabled_at is None
    found = ok(client.get("/Users", params=query, headers=headers))
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == created["id"]
    assert isinstance(found["totalResults"], int) and isinstance(found["startIndex"], int)  # Okta: integers
    replaced = ok(
        client.put(
            f"/Users/{created['id']}",
            json=with_ids(recorded.OKTA_REPLACE_USER, {"23a35c27-23d3-4c03-b4c5-6443c09e7173": created["id"]}),
            headers=headers,
        )
    )
    assert replaced["name"] == {"givenName": "Another", "middleName": "Excited", "familyName": "User"}
    assert replaced["meta"]["version"] == 'W/"2"'

    other = ok(
        client.post(
            "/Users",
            json=recorded.OKTA_CREATE_USER | {"userName": "second@okta.local", "emails": [], "externalId": "00u2"},
            headers=headers,
        ),
        201,
    )
    group = ok(client.post("/Groups", json=recorded.OKTA_CREATE_GROUP, headers=headers), 201)
    assert group["displayName"] == "Test SCIMv2" and "members" not in group
    renamed = client.patch(
        f"/Groups/{group['id']}",
        json=with_ids(recorded.OKTA_RENAME_GROUP, {"abf4dd94-a4c0-4f67-89c9-76b03340cb9b": group["id"]}),
        headers=headers,
    )
    assert renamed.status_code == 204  # the same name: nothing changes, the version stays
    assert renamed.headers["etag"] == 'W/"1"'
    ids = {"23a35c27-23d3-4c03-b4c5-6443c09e7173": created["id"], "89bb1940-b905-4575-9e7f-6f887cfb368e": other["id"]}
    ok(client.patch(f"/Groups/{group['id']}", json=with_ids(recorded.OKTA_REPLACE_MEMBERS, ids), headers=headers), 204)
    members = ok(client.get(f"/Groups/{group['id']}", headers=headers))["members"]
    assert {m["value"] for m in members} == {created["id"], other["id"]}
    assert {m.get("display") for m in members} == {"test.user@okta.local"}
    assert enclave_user(runtime, "test.user@okta.local").role == Role.AUDITOR.value  # "Test SCIMv2" maps to it
    ok(client.patch(f"/Groups/{group['id']}", json=with_ids(recorded.OKTA_CHANGE_MEMBERS, ids), headers=headers), 204)
    members = ok(client.get(f"/Groups/{group['id']}", headers=headers))["members"]
    assert [m["value"] for m in members] == [created["id"]]  # the other one out, this one (already) in

    deactivated = ok(client.patch(f"/Users/{created['id']}", json=recorded.OKTA_DEACTIVATE_USER, headers=headers))
    assert deactivated["active"] is False
    assert enclave_user(runtime, "test.user@okta.local").disabled_at is not None
    (offboarded,) = audit_events(runtime, "auth.user.offboarded")
    actor = offboarded["actor"]
    assert (actor["kind"], actor["id"]) == ("system", f"scim:{token.split('_')[1]}")
    assert actor["user_agent"] == recorded.OKTA_USER_AGENT
    page = ok(client.get("/Users", params={"startIndex": 1, "count": 100}, headers=headers))
    assert page["totalResults"] == 2  # an inactive user is still listed (Okta and Entra read it back)


def test_entra_provisions_matches_updates_assigns_and_disables(gateway: tuple[Runtime, TestClient, str]) -> None:
    runtime, client, token = gateway
    headers = entra(token)
    assert ok(client.get("/Users", params={"filter": recorded.ENTRA_FIND_NOBODY}, headers=headers))["totalResults"] == 0
    created = ok(client.post("/Users", json=recorded.ENTRA_CREATE_USER, headers=headers), 201)
    assert created["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]  # no extension claimed
    assert "roles" not in created
    email = "test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    assert enclave_user(runtime, email).display_name == "givenName familyName"
    for query in (recorded.ENTRA_FIND_USER, recorded.ENTRA_FIND_USER_BY_WORK_EMAIL):
        found = ok(client.get("/Users", params={"filter": query}, headers=headers))
        assert [r["id"] for r in found["Resources"]] == [created["id"]], query
    where = f"/Users/{created['id']}"
    updated = ok(client.patch(where, json=recorded.ENTRA_UPDATE_MULTI_VALUED, headers=headers))
    assert updated["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert updated["name"]["familyName"] == "updatedFamilyName"
    assert (
        enclave_user(runtime, "updatedemail@microsoft.com").id == enclave_user(runtime, "updatedemail@microsoft.com").id
    )
    (changed,) = [e for e in audit_events(runtime, "scim.user.updated") if "email" in e["details"]]
    assert changed["details"]["email"] == {"from": email, "to": "updatedemail@microsoft.com"}
    renamed = ok(client.patch(where, json=recorded.ENTRA_UPDATE_USER_NAME, headers=headers))
    assert renamed["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    version = renamed["meta"]["version"]
    ignored = ok(client.patch(where, json=recorded.ENTRA_ADD_NICKNAME_LEGACY, headers=headers))
    assert ignored["meta"]["version"] == version and "nickName" not in ignored  # not kept: nothing changed
    legacy = ok(client.patch(where, json=recorded.ENTRA_REPLACE_MANY_LEGACY, headers=headers))
    assert (legacy["displayName"], legacy["externalId"], legacy["name"]["givenName"]) == ("Pvlo", "Eqpj", "Gtfd")
    assert legacy["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    flagged = ok(client.patch(where, json=recorded.ENTRA_REPLACE_MANY, headers=headers))
    assert (flagged["displayName"], flagged["name"]["givenName"], flagged["name"]["familyName"]) == (
        "Bjfe",
        "Kkom",
        "Unua",
    )
    assert enclave_user(runtime, "testmhvaes@test.microsoft.com").display_name == "Bjfe"

    group = ok(client.post("/Groups", json=recorded.ENTRA_CREATE_GROUP, headers=headers), 201)
    assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"] and group["externalId"]
    found = ok(
        client.get(
            "/Groups", params={"excludedAttributes": "members", "filter": recorded.ENTRA_FIND_GROUP}, headers=headers
        )
    )
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    member = {"f648f8d5ea4e4cd38e9c": created["id"]}
    ok(client.patch(f"/Groups/{group['id']}", json=with_ids(recorded.ENTRA_ADD_MEMBER, member), headers=headers), 204)
    assert enclave_user(runtime, "testmhvaes@test.microsoft.com").role == Role.ADMIN.value  # "displayName" maps so
    member_of = ok(
        client.get(
            "/Groups",
            params={
                "filter": f'id eq "{group["id"]}" and members eq "{created["id"]}"',
                "excludedAttributes": "members",
            },
            headers=headers,
        )
    )
    assert member_of["totalResults"] == 1
    ok(
        client.patch(f"/Groups/{group['id']}", json=with_ids(recorded.ENTRA_REMOVE_MEMBER, member), headers=headers),
        204,
    )
    assert enclave_user(runtime, "testmhvaes@test.microsoft.com").role == Role.VIEWER.value
    for removal, old_id in (
        (recorded.ENTRA_REMOVE_MEMBER_LEGACY, "u1091"),
        (recorded.ENTRA_REMOVE_MEMBER_FLAGGED, "7f4bc1a3-285e-48ae-8202-5accb43efb0e"),
    ):
        ok(
            client.patch(f"/Groups/{group['id']}", json=with_ids(recorded.ENTRA_ADD_MEMBER, member), headers=headers),
            204,
        )
        assert enclave_user(runtime, "testmhvaes@test.microsoft.com").role == Role.ADMIN.value
        ok(
            client.patch(f"/Groups/{group['id']}", json=with_ids(removal, {old_id: created["id"]}), headers=headers),
            204,
        )
        assert enclave_user(runtime, "testmhvaes@test.microsoft.com").role == Role.VIEWER.value
    ok(client.patch(f"/Groups/{group['id']}", json=recorded.ENTRA_RENAME_GROUP, headers=headers), 204)

    disabled = ok(client.patch(where, json=recorded.ENTRA_DISABLE_USER_LEGACY, headers=headers))
    assert disabled["active"] is False  # "False", a string, read as the boolean
    assert enclave_user(runtime, "testmhvaes@test.microsoft.com").disabled_at is not None
    second = ok(
        client.post(
            "/Users",
            json=recorded.ENTRA_CREATE_USER
            | {"userName": "two", "externalId": "x2", "emails": [{"value": "two@testuser.com", "type": "work"}]},
            headers=headers,
        ),
        201,
    )
    ok(client.patch(f"/Users/{second['id']}", json=recorded.ENTRA_DISABLE_USER, headers=headers))
    assert enclave_user(runtime, "two@testuser.com").disabled_at is not None
    assert client.delete(where, headers=headers).status_code == 204
    assert client.delete(f"/Groups/{group['id']}", headers=headers).status_code == 204
    assert client.get(where, headers=headers).status_code == 404
