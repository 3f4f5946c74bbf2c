"""The authenticator chain: each authenticator answers for its own kind of credential only."""

from __future__ import annotations

import pytest

from audit.events import ActorKind
from auth.authn import (
    REFUSED_MESSAGE,
    AuthenticationError,
    AuthenticatorChain,
    Credentials,
    OperatorTokenAuthenticator,
)
from auth.principal import OPERATOR, Principal
from auth.roles import Role
from tenancy.errors import UnauthenticatedError

TOKEN = "op-Jq7vW2xT9mKp4LzR8cYn3BfH6dGs5AeU1iO0"
VIEWER = Principal(kind=ActorKind.API_KEY, id="0123456789ab", tenant="acme", role=Role.VIEWER)


class FixedKeys:
    """A stand-in authenticator of `enc_` bearers, to test the chain's composition alone."""

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.bearer is None or not credentials.bearer.startswith("enc_"):
            return None
        if credentials.bearer == "enc_good":
            return VIEWER
        raise AuthenticationError("wrong secret", subject="apikey:0123456789ab", tenant="acme")


@pytest.mark.parametrize(
    ("header", "bearer"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_is_read_from_the_authorization_header(header: str | None, bearer: str | None) -> None:
    assert Credentials(authorization=header).bearer == bearer


def test_the_chain_asks_each_authenticator_in_turn() -> None:
    chain = AuthenticatorChain([OperatorTokenAuthenticator(TOKEN, api_key_prefix="enc_"), FixedKeys()])
    assert chain.authenticate(Credentials(authorization=f"Bearer {TOKEN}")) is OPERATOR
    assert chain.authenticate(Credentials(authorization="Bearer enc_good")) is VIEWER
    with pytest.raises(AuthenticationError) as refused:
        chain.authenticate(Credentials(authorization="Bearer enc_bad"))
    assert str(refused.value) == REFUSED_MESSAGE and refused.value.reason == "wrong secret"
    with pytest.raises(UnauthenticatedError, match="missing credentials"):
        chain.authenticate(Credentials())


@pytest.mark.parametrize("token", [TOKEN, TOKEN[:-1], "a-guess-of-some-length"])
def test_a_wrong_operator_token_is_refused_with_the_common_message(token: str) -> None:
    authenticator = OperatorTokenAuthenticator(TOKEN, api_key_prefix="enc_")
    with pytest.raises(AuthenticationError) as refused:
        authenticator.authenticate(Credentials(authorization=f"Bearer {token}x"))
    assert str(refused.value) == REFUSED_MESSAGE
    assert refused.value.subject == "operator" and refused.value.reason == "wrong operator token"
    assert f"{token}x" not in repr(refused.value.audit_event(ip="10.0.0.1", request_id=None, tenant="acme"))


def test_without_an_operator_token_no_bearer_becomes_the_operator() -> None:
    authenticator = OperatorTokenAuthenticator(None, api_key_prefix="enc_")
    with pytest.raises(AuthenticationError) as refused:
        authenticator.authenticate(Credentials(authorization="Bearer anything"))
    assert refused.value.reason == "unrecognised bearer token"
    assert authenticator.authenticate(Credentials(authorization="Bearer enc_x")) is None


def test_a_refusal_is_audited_in_its_own_tenant_first() -> None:
    refused = AuthenticationError(
        "revoked", subject="apikey:0123456789ab", tenant="acme", action="auth.apikey.used.denied"
    )
    event = refused.audit_event(ip="10.0.0.1", request_id="req-12345678", tenant="globex")
    assert event is not None
    assert (event.tenant, event.target, event.reason, event.actor.id) == (
        "acme",
        "apikey:0123456789ab",
        "revoked",
        "0123456789ab",
    )
    assert AuthenticationError("x", subject="apikey", action=None).audit_event(ip=None, request_id=None) is None


def test_a_refusal_names_its_subject_by_kind_and_id_only() -> None:
    assert AuthenticationError("x", subject="apikey:0123456789ab").actor(None).kind is ActorKind.API_KEY
    assert AuthenticationError("x", subject="operator").actor("10.0.0.1").id == "operator"
    session = AuthenticationError("ended", subject="session:abcdef0123456789").actor(None)
    assert (session.kind, session.id) == (ActorKind.USER, "abcdef0123456789")
