"""OpenID Connect Back-Channel Logout 1.0: the provider's logout token, validated like an ID token (§2.6),
ends the sessions it names (§2.7) on every replica, audited; anything else is 400 (§2.8).

End to end with a real OpenID Provider (node oidc-provider 8.8.1, `backchannelLogout` enabled): the user
signs out at the provider, the provider POSTs the logout token to the gateway (served on a loopback port) and
the gateway session ends. Each validation rule against tokens signed here with a key the recorded provider
publishes, and each forged variant refused with its reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from audit.events import SYSTEM_ACTOR
from auth.identities import add_link, find_link
from auth.models import User
from auth.roles import Role
from auth.sessions import ActiveSession, ProviderSignIn
from auth.sso.backchannel import BackchannelLogout, LogoutTokenError
from auth.sso.idtoken import LOGOUT_EVENT
from auth.sso.registry import get_provider
from auth.users import create_user
from enclave.app import create_app
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    JIT_POLICY,
    REDIRECT_URI,
    TENANT,
    audit_rows,
    configure,
    login_as,
    oidc_config,
    opened,
    service,
)
from tests.auth.sso.recorded import Recording, recorded_server
from tests.support.oidc.nodeproc import managed_provider

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"}, private=True)
ATTACKER = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
PUBLIC_URL = "https://acme.example.com"


# -- every rule, against tokens signed here -----------------------------------------------------------------
@pytest.fixture
def idp() -> Iterator[Recording]:
    with recorded_server() as recording:
        recording.answer(
            "GET",
            "/.well-known/openid-configuration",
            200,
            {
                "issuer": recording.base,
                "authorization_endpoint": f"{recording.base}/authorize",
                "token_endpoint": f"{recording.base}/token",
                "jwks_uri": f"{recording.base}/jwks",
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
            },
        )
        recording.answer("GET", "/jwks", 200, {"keys": [KEY.as_dict(private=False)]})
        yield recording


@pytest.fixture
def runtime(tmp_path: Path, idp: Recording) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data", public_url=PUBLIC_URL) as runtime:
        configure(runtime, oidc_config(idp.base))
        yield runtime


def session_for(runtime: Runtime, email: str, subject: str, sid: str) -> str:
    """A session `email` opened through the provider as `subject`, in the provider's session `sid`."""
    svc = service(runtime)
    with transaction(runtime.sessions) as session:
        provider = get_provider(session, TENANT, "corp")
        assert provider is not None
        user = session.query(User).filter_by(email=email).one_or_none() or create_user(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, email=email, role=Role.MEMBER
        )
        link = find_link(session, provider.id, subject) or add_link(
            session, runtime.audit, SYSTEM_ACTOR, user, provider, subject, "jit"
        )
        token, _ = svc.store.create(
            session,
            user,
            JIT_POLICY,
            signed_in=ProviderSignIn(provider.id, identity_id=link.id, idp_session_id=sid),
        )
    return token


def logout_token(
    issuer: str, *, key: Any = KEY, header: dict[str, Any] | None = None, drop: tuple[str, ...] = (), **claims: Any
) -> str:
    now = int(time.time())
    values = {
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sub": "alice",
        "sid": "sid-1",
        "events": {LOGOUT_EVENT: {}},
        **claims,
    }
    for name in drop:
        values.pop(name)
    return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "logout+jwt", **(header or {})}, values, key)


def hand_made(issuer: str, alg: str) -> str:
    """A token joserfc would refuse to make: `none`, or HS256 keyed with the provider's public key (PEM)."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = jwt.decode(logout_token(issuer), KEY).claims
    signing_input = f"{segment({'alg': alg, 'kid': 'k1'})}.{segment(claims)}"
    if alg == "none":
        return signing_input + "."
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def handler(runtime: Runtime) -> BackchannelLogout:
    svc = service(runtime)
    return BackchannelLogout(runtime.sessions, runtime.audit, svc.store, svc.clients)


def live(runtime: Runtime, token: str) -> ActiveSession | None:
    return service(runtime).store.lookup(token)


def test_a_logout_token_naming_a_provider_session_ends_that_session(idp: Recording, runtime: Runtime) -> None:
    mine = session_for(runtime, "alice@acme.test", "alice", "sid-1")
    other_browser = session_for(runtime, "alice@acme.test", "alice", "sid-2")
    assert handler(runtime).handle(TENANT, logout_token(idp.base)) == 1
    assert live(runtime, mine) is None
    assert live(runtime, other_browser) is not None
    ((_, body),) = audit_rows(runtime, "auth.session.revoked")
    record = json.loads(body)
    assert (record["reason"], record["actor"]["id"]) == ("back-channel logout", "sso:corp")


def test_a_logout_token_naming_only_the_user_ends_all_their_sessions_there(idp: Recording, runtime: Runtime) -> None:
    tokens = [session_for(runtime, "alice@acme.test", "alice", sid) for sid in ("sid-1", "sid-2")]
    bob = session_for(runtime, "bob@acme.test", "bob", "sid-9")
    assert handler(runtime).handle(TENANT, logout_token(idp.base, drop=("sid",))) == 2
    assert [live(runtime, t) for t in tokens] == [None, None]
    assert live(runtime, bob) is not None
    assert handler(runtime).handle(TENANT, logout_token(idp.base, sub="nobody", drop=("sid",))) == 0  # still 200


def test_a_logout_token_is_acted_on_once(idp: Recording, runtime: Runtime) -> None:
    session_for(runtime, "alice@acme.test", "alice", "sid-1")
    token = logout_token(idp.base)
    assert handler(runtime).handle(TENANT, token) == 1
    with pytest.raises(LogoutTokenError) as replayed:
        handler(runtime).handle(TENANT, token)
    assert replayed.value.reason == "replayed"


FORGED: dict[str, tuple[dict[str, Any], str]] = {
    "another issuer": ({"iss": "https://impostor.example"}, "unknown_issuer"),
    "another audience": ({"aud": "someone-else"}, "unknown_issuer"),
    "signed with another key": ({"key": ATTACKER}, "bad_signature"),
    "a key id the provider does not publish": ({"header": {"kid": "k9"}}, "unknown_kid"),
    "its own key in the header": (
        {"header": {"jwk": ATTACKER.as_dict(private=False)}, "key": ATTACKER},
        "embedded_key_refused",
    ),
    "an access token's type": ({"header": {"typ": "at+jwt"}}, "typ_mismatch"),
    "no logout event": ({"events": {"http://schemas.openid.net/event/other": {}}}, "not_a_logout_token"),
    "an event that is not an object": ({"events": {LOGOUT_EVENT: "yes"}}, "not_a_logout_token"),
    "a nonce (an ID token)": ({"nonce": "n-1"}, "nonce_present"),
    "no jti": ({"drop": ("jti",)}, "jti_invalid"),
    "neither sid nor sub": ({"drop": ("sid", "sub")}, "sid_or_sub_missing"),
    "issued an hour ago": ({"iat": lambda now: now - 3600, "exp": lambda now: now + 60}, "iat_too_old"),
    "issued in the future": ({"iat": lambda now: now + 3600}, "iat_in_future"),
    "expired": ({"exp": lambda now: now - 300}, "expired"),
}  # fmt: skip
# Times are functions of the moment the test runs (not of when the module was imported: under a loaded
# parallel run that can be minutes earlier, and a token "valid for 60 s" would have expired).


@pytest.mark.parametrize(("forged", "reason"), FORGED.values(), ids=list(FORGED))
def test_a_forged_or_wrong_logout_token_is_refused(
    idp: Recording, runtime: Runtime, forged: dict[str, Any], reason: str
) -> None:
    now = int(time.time())
    forged = {name: value(now) if name in ("iat", "exp") else value for name, value in forged.items()}
    mine = session_for(runtime, "alice@acme.test", "alice", "sid-1")
    with pytest.raises(LogoutTokenError) as refused:
        handler(runtime).handle(TENANT, logout_token(idp.base, **forged))
    assert refused.value.reason == reason
    assert live(runtime, mine) is not None
    assert audit_rows(runtime, "auth.session.revoked") == []


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "token_missing"),
        ("", "token_missing"),
        ("not.a.jwt", "malformed_token"),
        ("a" * 20_000, "malformed_token"),
    ],
)
def test_a_missing_or_garbled_token_is_refused(runtime: Runtime, token: str | None, reason: str) -> None:
    with pytest.raises(LogoutTokenError) as refused:
        handler(runtime).handle(TENANT, token)
    assert refused.value.reason == reason


def test_the_endpoint_answers_200_or_400_and_is_never_cached(idp: Recording, runtime: Runtime) -> None:
    mine = session_for(runtime, "alice@acme.test", "alice", "sid-1")
    with TestClient(create_app(Services.build(runtime)), base_url=PUBLIC_URL) as client:
        as_json = client.post("/auth/backchannel-logout", json={"logout_token": logout_token(idp.base)})
        assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
        missing = client.post("/auth/backchannel-logout", data={"something": "else"})
        assert missing.status_code == 400 and "no logout_token" in missing.json()["error_description"]
        forged = client.post("/auth/backchannel-logout", data={"logout_token": logout_token(idp.base, key=ATTACKER)})
        assert forged.status_code == 400 and forged.headers["cache-control"] == "no-store"
        assert live(runtime, mine) is not None
        done = client.post("/auth/backchannel-logout", data={"logout_token": logout_token(idp.base)})
        assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
        assert done.json() == {"sessions_ended": 1}
        assert client.get("/auth/backchannel-logout").status_code == 405
    assert live(runtime, mine) is None


# -- end to end: the provider itself sends the logout token --------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_signing_out_at_the_provider_ends_the_gateway_session(tmp_path: Path) -> None:
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    with (
        managed_provider(
            CLIENT_ID,
            CLIENT_SECRET,
            [REDIRECT_URI],
            backchannel_logout_uri=f"{gateway_url}/auth/backchannel-logout",
        ) as issuer,
        opened(f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "data", public_url=PUBLIC_URL) as runtime,
    ):
        configure(runtime, oidc_config(issuer))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(Services.build(runtime)), host="127.0.0.1", port=port, log_config=None, lifespan="off"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        try:
            svc = service(runtime)
            with httpx.Client() as browser:  # keeps the provider's session cookie
                result = login_as(svc, "alice@acme.test", browser=browser)
                assert svc.store.lookup(result.session_token) is not None
                confirm = browser.get(f"{issuer}/session/end")  # the user signs out at the provider
                xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
                assert xsrf is not None, confirm.text[:300]
                browser.post(f"{issuer}/session/end/confirm", data={"xsrf": xsrf.group(1), "logout": "yes"})
            deliveries = httpx.get(f"{issuer}/_admin/backchannel").json()
            assert [d["ok"] for d in deliveries] == [True], deliveries
            assert svc.store.lookup(result.session_token) is None
            ((_, body),) = audit_rows(runtime, "auth.session.revoked")
            assert json.loads(body)["reason"] == "back-channel logout"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
