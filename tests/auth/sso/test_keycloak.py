"""Keycloak provisioning and offboarding through python-keycloak against a recording fake of the Admin REST
API (request and response shapes as documented; no Keycloak runs here): realm, gateway client, brokered
providers and LDAP federation created once, updated on a second run; secrets only from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth.keycloak import (
    AdminConnection,
    KeycloakAdminError,
    SpecError,
    admin_client,
    disable_and_logout,
    load_spec,
    provision,
)
from tests.auth.sso.keycloak_fake import ADMIN_CLIENT, FakeKeycloak, fake_keycloak

SPEC = {
    "realm": "acme",
    "display_name": "Acme Corp",
    "client": {
        "client_id": "enclave-gateway",
        "redirect_uris": ["https://acme.example.com/auth/callback"],
        "post_logout_redirect_uris": ["https://acme.example.com/"],
        "backchannel_logout_url": "https://acme.example.com/auth/backchannel-logout",
    },
    "identity_providers": [
        {
            "alias": "google",
            "kind": "google",
            "client_id": "g.apps",
            "client_secret_env": "GOOGLE_SECRET",
            "hosted_domain": "acme.test",
        },
        {"alias": "github", "kind": "github", "client_id": "Iv1.abc", "client_secret_env": "GITHUB_SECRET"},
        {
            "alias": "entra",
            "kind": "microsoft",
            "client_id": "app-id",
            "client_secret_env": "ENTRA_SECRET",
            "tenant_id": "9188040d-6c67-4c5b-b112-36a304b66dad",
        },
        {
            "alias": "okta",
            "kind": "oidc",
            "client_id": "okta-client",
            "client_secret_env": "OKTA_SECRET",
            "issuer": "https://acme.okta.com",
            "authorization_url": "https://acme.okta.com/oauth2/v1/authorize",
            "token_url": "https://acme.okta.com/oauth2/v1/token",
            "jwks_url": "https://acme.okta.com/oauth2/v1/keys",
        },
        {
            "alias": "adfs",
            "kind": "saml",
            "sso_url": "https://adfs.acme.test/adfs/ls/",
            "idp_entity_id": "http://adfs.acme.test/adfs/services/trust",
            "signing_certificate": "MIICdummy",
        },
    ],
    "ldap": {
        "vendor": "ad",
        "connection_url": "ldaps://dc1.acme.test:636",
        "users_dn": "OU=Staff,DC=acme,DC=test",
        "bind_dn": "CN=svc-keycloak,OU=Service,DC=acme,DC=test",
        "bind_credential_env": "LDAP_BIND",
    },
}
ENV = {
    "GOOGLE_SECRET": "g-s3cret",
    "GITHUB_SECRET": "gh-s3cret",
    "ENTRA_SECRET": "e-s3cret",
    "OKTA_SECRET": "o-s3cret",
    "LDAP_BIND": "ldap-s3cret",
}


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    with fake_keycloak() as fake:
        yield fake


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(SPEC))
    return path


def connect(fake: FakeKeycloak) -> AdminConnection:
    return AdminConnection(fake.base, *ADMIN_CLIENT)


def test_provision_creates_then_updates(keycloak: FakeKeycloak, spec_file: Path) -> None:
    spec = load_spec(spec_file)
    first = provision(admin_client(connect(keycloak)), spec, ENV)
    assert first.created == [
        "realm acme",
        "client enclave-gateway",
        "identity provider google",
        "identity provider github",
        "identity provider entra",
        "identity provider okta",
        "identity provider adfs",
        "LDAP federation ldap",
    ]
    assert first.updated == []
    realm = keycloak.realms["acme"]
    assert first.client_secret == next(iter(realm.clients.values()))["secret"]
    client = next(iter(realm.clients.values()))
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    # Keycloak tells the gateway when the user's Keycloak session ends (OpenID Connect Back-Channel Logout)
    assert client["attributes"]["backchannel.logout.url"] == "https://acme.example.com/auth/backchannel-logout"
    assert client["attributes"]["backchannel.logout.session.required"] == "true"
    assert client["frontchannelLogout"] is False
    assert client["publicClient"] is False and client["implicitFlowEnabled"] is False
    assert realm.idps["google"]["config"]["hostedDomain"] == "acme.test"
    assert realm.idps["entra"]["providerId"] == "oidc"
    assert (
        realm.idps["entra"]["config"]["issuer"]
        == "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    )
    assert realm.idps["adfs"]["config"]["wantAssertionsSigned"] == "true"
    ldap = next(iter(realm.components.values()))
    assert ldap["parentId"] == realm.id
    assert ldap["config"]["bindCredential"] == ["ldap-s3cret"]
    assert ldap["config"]["editMode"] == ["READ_ONLY"]

    second = provision(admin_client(connect(keycloak)), spec, ENV)
    assert second.created == []
    assert len(second.updated) == 8
    assert len(realm.clients) == 1 and len(realm.idps) == 5 and len(realm.components) == 1


def test_missing_secret_variable_is_a_clear_error(keycloak: FakeKeycloak, spec_file: Path) -> None:
    with pytest.raises(SpecError, match="GITHUB_SECRET"):
        provision(
            admin_client(connect(keycloak)),
            load_spec(spec_file),
            {k: v for k, v in ENV.items() if k != "GITHUB_SECRET"},
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"realm": "Acme!"}, "realm"),
        (
            {"identity_providers": [{"alias": "x", "kind": "oidc", "client_id": "c", "client_secret_env": "S"}]},
            "needs issuer",
        ),
        ({"identity_providers": [{"alias": "x", "kind": "saml"}]}, "needs sso_url"),
        ({"ldap": {**SPEC["ldap"], "connection_url": "ldap://dc1.acme.test"}}, "start_tls"),  # type: ignore[dict-item]
        ({"client": {"redirect_uris": []}}, "redirect_uris"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_specs_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**SPEC, **change}))
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_unreadable_spec(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("realm = ")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.json")


def test_keycloak_refusal_names_the_step_and_no_secret(keycloak: FakeKeycloak, spec_file: Path) -> None:
    keycloak.fail_path = r"/identity-provider/instances/github$"
    provision(admin_client(connect(keycloak)), load_spec(spec_file), ENV)  # github exists: the rerun PUTs it
    with pytest.raises(KeycloakAdminError) as failed:
        provision(admin_client(connect(keycloak)), load_spec(spec_file), ENV)
    assert str(failed.value) == "Keycloak refused the identity provider github step (HTTP 500)"
    assert all(secret not in str(failed.value) for secret in ENV.values())


def test_offboarding_disables_and_logs_out(keycloak: FakeKeycloak, spec_file: Path) -> None:
    provision(admin_client(connect(keycloak)), load_spec(spec_file), ENV)
    realm = keycloak.realms["acme"]
    realm.users["u1"] = {"id": "u1", "username": "ann", "email": "ann@acme.test", "enabled": True}
    realm.users["u2"] = {"id": "u2", "username": "bo", "email": "bo@acme.test", "enabled": True}
    assert disable_and_logout(admin_client(connect(keycloak)), "acme", "ann@acme.test") == 1
    assert realm.users["u1"]["enabled"] is False
    assert realm.users["u2"]["enabled"] is True
    assert realm.logged_out == ["u1"]


def test_wrong_admin_credentials_are_refused(keycloak: FakeKeycloak, spec_file: Path) -> None:
    with pytest.raises(KeycloakAdminError, match="HTTP 401"):
        provision(admin_client(AdminConnection(keycloak.base, "enclave-admin", "wrong")), load_spec(spec_file), ENV)
