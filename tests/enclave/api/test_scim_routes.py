"""/scim/v2 over HTTP: only a SCIM token gets in (API keys, the operator token and session cookies are refused,
every refusal limited and audited), the token gets nowhere else, its requests are rate-limited; every error is a
SCIM error document; ETags, pagination and partial representations; and the tenant admins' token API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from audit.events import SYSTEM_ACTOR
from auth.roles import Role
from auth.scim.tokens import create_scim_token, revoke_scim_token
from auth.sessions_authn import SESSION_COOKIE
from auth.users import create_user
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.scim.helpers import audit_events, patch, user_payload
from tests.conftest import make_settings
from tests.enclave.api.conftest import open_shared
from tests.enclave.api.helpers import OPERATOR_TOKEN, bearer, issue_key
from tests.support.scim import issue_scim_token

ORIGIN = "https://acme.example.com"
SCIM = "/scim/v2"
SCIM_JSON = "application/scim+json"


@pytest.fixture
def gateway(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, str]]:
    runtime = Runtime.open(
        make_settings(sqlite_url, tmp_path / "data", public_url=ORIGIN, operator_token=OPERATOR_TOKEN)
    )
    with TestClient(create_app(Services.build(runtime)), base_url=ORIGIN) as client:
        yield runtime, client, issue_scim_token(runtime)
    runtime.close()


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM_JSON
    body: dict[str, Any] = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)  # a string (RFC 7644 §3.12)
    assert body.get("scimType") == scim_type
    return body


def create(client: TestClient, token: str, user_name: str, **more: Any) -> dict[str, Any]:
    response = client.post(f"{SCIM}/Users", json=user_payload(user_name, **more), headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# -- who gets in ----------------------------------------------------------------------------------------------
def test_nothing_but_a_scim_token_gets_in(gateway: tuple[Runtime, TestClient, str]) -> None:
    runtime, client, token = gateway
    body = scim_error(client.get(f"{SCIM}/Users"), 401)
    assert "SCIM token" in body["detail"]
    assert client.get(f"{SCIM}/Users").headers["www-authenticate"] == 'Bearer realm="SCIM"'
    admin_key = issue_key(runtime, "acme", Role.ADMIN)
    scim_error(client.get(f"{SCIM}/Users", headers=bearer(admin_key)), 401)
    scim_error(client.get(f"{SCIM}/Users", headers=bearer(OPERATOR_TOKEN)), 401)
    with transaction(runtime.sessions) as session:
        user = create_user(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", email="ann@acme.test", role=Role.ADMIN
        )
    services = Services.build(runtime)
    with transaction(runtime.sessions) as session:
        cookie, _ = services.session_store.create(session, user, services.sso.policy(_operator()))
    scim_error(client.get(f"{SCIM}/Users", headers={"cookie": f"{SESSION_COOKIE}={cookie}"}), 401)
    scim_error(client.get(f"{SCIM}/Users", headers=bearer(token[:-2] + "xx")), 401)
    refused = audit_events(runtime, "scim.token.used.denied")
    assert {r["reason"] for r in refused} >= {
        "not a SCIM token (API keys and the operator token are not accepted on /scim/v2)",
        "wrong secret",
    }
    assert token.split("_", 2)[2] not in str(refused)
    assert client.get(f"{SCIM}/Users", headers=bearer(token)).status_code == 200


def _operator() -> Any:
    from enclave.services import Access

    return Access.operator("acme", SYSTEM_ACTOR)


def test_the_scim_token_gets_nowhere_else(gateway: tuple[Runtime, TestClient, str]) -> None:
    runtime, client, token = gateway
    paths = [
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("GET", "/api/v1/audit/events"),
        ("GET", "/api/v1/sso/policy"),
        ("GET", "/api/v1/scim/tokens"),
        ("GET", "/api/v1/storage/status"),
        ("GET", "/api/v1/tenants"),
        ("GET", "/account"),
    ]
    for method, path in paths:
        response = client.request(method, path, headers=bearer(token), follow_redirects=False)
        assert response.status_code in (401, 303), (path, response.status_code)  # 303: a page asks to sign in
    (first, *_) = audit_events(runtime, "scim.token.used.denied")
    assert first["reason"] == "a SCIM token is accepted on /scim/v2 only"
    assert first["target"] == f"scim:{token.split('_')[1]}"


def test_a_revoked_token_is_refused_at_once(gateway: tuple[Runtime, TestClient, str]) -> None:
    runtime, client, token = gateway
    assert client.get(f"{SCIM}/ServiceProviderConfig", headers=bearer(token)).status_code == 200
    with transaction(runtime.sessions) as session:
        revoke_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", token_id=token.split("_")[1])
    scim_error(client.get(f"{SCIM}/ServiceProviderConfig", headers=bearer(token)), 401)


def test_each_token_has_its_request_budget(sqlite_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(
        make_settings(
            sqlite_url, tmp_path / "data", public_url=ORIGIN, scim_requests_per_token=3, scim_rate_window_seconds=60
        )
    )
    try:
        with TestClient(create_app(Services.build(runtime)), base_url=ORIGIN) as client:
            first, second = issue_scim_token(runtime, name="okta"), issue_scim_token(runtime, name="entra")
            for _ in range(3):
                assert client.get(f"{SCIM}/Users", headers=bearer(first)).status_code == 200
            limited = client.get(f"{SCIM}/Users", headers=bearer(first))
            scim_error(limited, 429)
            assert int(limited.headers["retry-after"]) >= 1
            assert client.get(f"{SCIM}/Users", headers=bearer(second)).status_code == 200  # another token's budget
    finally:
        runtime.close()


def test_failed_attempts_are_throttled_like_any_other(sqlite_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "data", public_url=ORIGIN, auth_failures_per_subject=2))
    try:
        with TestClient(create_app(Services.build(runtime)), base_url=ORIGIN) as client:
            token = issue_scim_token(runtime)
            wrong = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
            statuses = [client.get(f"{SCIM}/Users", headers=bearer(wrong)).status_code for _ in range(4)]
            assert statuses[:2] == [401, 401] and statuses[-1] == 429
            assert len(audit_events(runtime, "auth.failures.throttled")) == 1
    finally:
        runtime.close()


def test_in_shared_mode_a_token_serves_its_own_tenants_host_only(database_url: str, tmp_path: Path) -> None:
    runtime = open_shared(database_url, tmp_path / "data")
    try:
        with transaction(runtime.sessions) as session:
            token = create_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id="acme", name="okta").secret
        app = create_app(Services.build(runtime))
        with TestClient(app, base_url="https://acme.enclave.test") as own:
            created = own.post(f"{SCIM}/Users", json=user_payload("ann@acme.test"), headers=bearer(token))
            assert created.status_code == 201
            assert created.json()["meta"]["location"].startswith("https://acme.enclave.test/scim/v2/Users/")
        with TestClient(app, base_url="https://globex.enclave.test") as other:
            scim_error(other.get(f"{SCIM}/Users", headers=bearer(token)), 403)
    finally:
        runtime.close()


# -- what comes back ----------------------------------------------------------------------------------------------
def test_errors_are_scim_documents(gateway: tuple[Runtime, TestClient, str]) -> None:
    _, client, token = gateway
    headers = bearer(token)
    scim_error(client.get(f"{SCIM}/Users/{'0' * 32}", headers=headers), 404)
    scim_error(client.get(f"{SCIM}/NoSuchThing", headers=headers), 404)
    not_allowed = client.delete(f"{SCIM}/Schemas", headers=headers)
    scim_error(not_allowed, 405)
    assert not_allowed.headers["allow"] == "GET"
    assert client.post(f"{SCIM}/Users/x", headers=headers).headers["allow"] == "DELETE, GET, PATCH, PUT"
    scim_error(
        client.post(f"{SCIM}/Users", content=b"{not json", headers=headers | {"content-type": SCIM_JSON}),
        400,
        "invalidSyntax",
    )
    scim_error(
        client.post(f"{SCIM}/Users", content=b"<x/>", headers=headers | {"content-type": "text/xml"}),
        400,
        "invalidSyntax",
    )
    scim_error(client.post(f"{SCIM}/Users", json=[1], headers=headers), 400, "invalidSyntax")
    scim_error(client.post(f"{SCIM}/Users", json={"userName": 5}, headers=headers), 400, "invalidValue")
    scim_error(client.get(f"{SCIM}/Users", params={"filter": "userName eq"}, headers=headers), 400, "invalidFilter")
    scim_error(client.get(f"{SCIM}/Users", params={"filter": 'title eq "x"'}, headers=headers), 400, "invalidFilter")
    scim_error(client.get(f"{SCIM}/Users", params={"filter": "x" * 5000}, headers=headers), 400, "invalidFilter")
    scim_error(client.get(f"{SCIM}/Users", params={"sortBy": "userName"}, headers=headers), 501)
    scim_error(client.post(f"{SCIM}/Bulk", json={}, headers=headers), 501)
    scim_error(client.get(f"{SCIM}/Me", headers=headers), 501)
    scim_error(client.get(f"{SCIM}/Schemas", params={"filter": 'id eq "x"'}, headers=headers), 403)
    too_big = client.post(
        f"{SCIM}/Users", content=b"{" + b" " * 2_000_000 + b"}", headers=headers | {"content-type": SCIM_JSON}
    )
    scim_error(too_big, 413)
    conflict = create(client, token, "ann@acme.test")
    assert conflict["id"]
    scim_error(client.post(f"{SCIM}/Users", json=user_payload("ANN@acme.test"), headers=headers), 409, "uniqueness")
    scim_error(
        client.patch(
            f"{SCIM}/Users/{conflict['id']}", json=patch({"op": "remove", "path": "userName"}), headers=headers
        ),
        400,
        "mutability",
    )
    scim_error(
        client.patch(
            f"{SCIM}/Users/{conflict['id']}",
            json=patch({"op": "replace", "path": "nope[", "value": 1}),
            headers=headers,
        ),
        400,
        "invalidPath",
    )


def test_etags_guard_writes_and_spare_reads(gateway: tuple[Runtime, TestClient, str]) -> None:
    _, client, token = gateway
    headers = bearer(token)
    created = client.post(f"{SCIM}/Users", json=user_payload("bo@acme.test"), headers=headers)
    user = created.json()
    assert created.headers["etag"] == 'W/"1"' == user["meta"]["version"]
    assert created.headers["location"] == user["meta"]["location"] == f"{ORIGIN}{SCIM}/Users/{user['id']}"
    where = f"{SCIM}/Users/{user['id']}"
    unchanged = client.get(where, headers=headers | {"if-none-match": 'W/"1"'})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == 'W/"1"'
    assert client.get(where, headers=headers | {"if-none-match": 'W/"0"'}).status_code == 200
    rename = patch({"op": "replace", "path": "displayName", "value": "Bo"})
    scim_error(client.patch(where, json=rename, headers=headers | {"if-match": 'W/"0"'}), 412)
    scim_error(client.put(where, json=user_payload("bo@acme.test"), headers=headers | {"if-match": 'W/"0"'}), 412)
    scim_error(client.delete(where, headers=headers | {"if-match": 'W/"0"'}), 412)
    renamed = client.patch(where, json=rename, headers=headers | {"if-match": 'W/"1"'})
    assert renamed.status_code == 200 and renamed.headers["etag"] == 'W/"2"' == renamed.json()["meta"]["version"]
    assert client.delete(where, headers=headers | {"if-match": 'W/"2"'}).status_code == 204
    scim_error(client.get(where, headers=headers), 404)


def test_pagination_and_partial_representations(gateway: tuple[Runtime, TestClient, str]) -> None:
    _, client, token = gateway
    headers = bearer(token)
    ids = [create(client, token, f"u{i}@acme.test", displayName=f"U {i}")["id"] for i in range(5)]
    page = client.get(f"{SCIM}/Users", params={"startIndex": 2, "count": 2}, headers=headers).json()
    assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    assert client.get(f"{SCIM}/Users", params={"count": 0}, headers=headers).json()["Resources"] == []
    assert client.get(f"{SCIM}/Users", params={"count": 10_000}, headers=headers).json()["itemsPerPage"] == 5
    assert client.get(f"{SCIM}/Users", params={"startIndex": -3, "count": 1}, headers=headers).json()["startIndex"] == 1
    only = client.get(f"{SCIM}/Users", params={"attributes": "userName"}, headers=headers).json()["Resources"][0]
    assert set(only) == {"schemas", "id", "userName"}
    without = client.get(f"{SCIM}/Users/{ids[0]}", params={"excludedAttributes": "displayName"}, headers=headers)
    assert "displayName" not in without.json() and "userName" in without.json()
    searched = client.post(
        f"{SCIM}/Users/.search",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'displayName eq "u 3"'},
        headers=headers,
    ).json()
    assert [r["id"] for r in searched["Resources"]] == [ids[3]]
    scim_error(client.post(f"{SCIM}/.search", json={}, headers=headers), 501)


def test_group_patches_answer_204_unless_a_representation_is_asked_for(
    gateway: tuple[Runtime, TestClient, str],
) -> None:
    _, client, token = gateway
    headers = bearer(token)
    member = create(client, token, "cy@acme.test")["id"]
    group = client.post(f"{SCIM}/Groups", json={"displayName": "Staff"}, headers=headers).json()
    where = f"{SCIM}/Groups/{group['id']}"
    added = client.patch(
        where, json=patch({"op": "add", "path": "members", "value": [{"value": member}]}), headers=headers
    )
    assert added.status_code == 204 and added.headers["etag"] == 'W/"2"'
    shown = client.patch(
        where,
        params={"excludedAttributes": "members"},
        json=patch({"op": "replace", "path": "displayName", "value": "S"}),
        headers=headers,
    )
    assert shown.status_code == 200 and "members" not in shown.json() and shown.json()["displayName"] == "S"
    full = client.get(where, headers=headers).json()
    assert full["members"] == [{"value": member, "$ref": f"{ORIGIN}{SCIM}/Users/{member}", "type": "User"}]
    assert "members" not in client.get(where, params={"excludedAttributes": "members"}, headers=headers).json()


def test_discovery_says_what_the_service_does(gateway: tuple[Runtime, TestClient, str]) -> None:
    _, client, token = gateway
    headers = bearer(token)
    config = client.get(f"{SCIM}/ServiceProviderConfig", headers=headers).json()
    assert config["patch"] == {"supported": True} and config["etag"] == {"supported": True}
    assert config["bulk"]["supported"] is False and config["sort"] == {"supported": False}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = client.get(f"{SCIM}/ResourceTypes", headers=headers).json()
    assert [(t["id"], t["endpoint"]) for t in types["Resources"]] == [("User", "/Users"), ("Group", "/Groups")]
    user_schema = client.get(f"{SCIM}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", headers=headers).json()
    names = [a["name"] for a in user_schema["attributes"]]
    assert names == ["userName", "name", "displayName", "active", "emails", "groups"]
    assert "password" not in str(user_schema)


# -- the tenant admins' token API -----------------------------------------------------------------------------------
def test_tenant_admins_manage_scim_tokens_and_see_the_directorys_status(
    gateway: tuple[Runtime, TestClient, str],
) -> None:
    runtime, client, _ = gateway
    admin = bearer(issue_key(runtime, "acme", Role.ADMIN))
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    assert client.post("/api/v1/scim/tokens", json={"name": "okta"}, headers=member).status_code == 403
    issued = client.post("/api/v1/scim/tokens", json={"name": "okta"}, headers=admin)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["secret"].startswith(f"scim_{body['id']}_") and body["scim_base_url"] == f"{ORIGIN}{SCIM}"
    assert body["state"] == "active" and body["expires_at"] is None
    listed = client.get("/api/v1/scim/tokens", headers=admin).json()
    assert body["id"] in [t["id"] for t in listed] and "secret" not in str(listed)
    assert client.get(f"{SCIM}/Users", headers=bearer(body["secret"])).status_code == 200
    rotated = client.post(f"/api/v1/scim/tokens/{body['id']}/rotate", json={"overlap_hours": 0}, headers=admin)
    assert rotated.status_code == 201 and rotated.json()["secret"] != body["secret"]
    scim_error(client.get(f"{SCIM}/Users", headers=bearer(body["secret"])), 401)
    status = client.get("/api/v1/scim/status", headers=admin).json()
    assert status["users"] == 0 and len(status["tokens"]) >= 2
    revoked = client.delete(f"/api/v1/scim/tokens/{rotated.json()['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.delete(f"/api/v1/scim/tokens/{rotated.json()['id']}", headers=admin).status_code == 409
    assert client.delete("/api/v1/scim/tokens/ffffffffffff", headers=admin).status_code == 404
    assert client.post("/api/v1/scim/tokens", json={"name": "x", "ttl_days": "5"}, headers=admin).status_code == 422


def test_without_a_public_address_the_service_says_what_to_set(sqlite_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(make_settings(sqlite_url, tmp_path / "data"))
    try:
        with TestClient(create_app(Services.build(runtime)), base_url=ORIGIN) as client:
            body = scim_error(client.get(f"{SCIM}/Users", headers=bearer(issue_scim_token(runtime))), 503)
            assert "set ENCLAVE_PUBLIC_URL" in body["detail"]
    finally:
        runtime.close()
