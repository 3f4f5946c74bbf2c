"""Microsoft Entra ID with recorded responses (the multi-tenant `organizations` endpoint): identity keyed by
(tid, oid); the issuer checked against the token's own tenant; only allowed tenants; an email counts only
when its domain's owner verified it (`xms_edov`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth.sso.config import ProviderConfig
from auth.sso.errors import LoginRefusedError
from auth.sso.flow import LoginResult, SignInService
from auth.sso.models import UserIdentityRow
from enclave.runtime import Runtime
from tests.auth.sso.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TENANT,
    configure,
    finish,
    follow_to_callback,
    opened,
    service,
)
from tests.auth.sso.recorded import Recording, recorded_server

ACME_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER_TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "00000000-0000-0000-66f3-3332eca7ea81"
KEY = RSAKey.generate_key(2048, parameters={"kid": "ms-key-1", "use": "sig"}, private=True)
TOKEN_PATH = "/organizations/oauth2/v2.0/token"


@pytest.fixture
def microsoft() -> Iterator[Recording]:
    with recorded_server() as recording:
        base = recording.base
        recording.answer(
            "GET",
            "/organizations/v2.0/.well-known/openid-configuration",
            200,
            {
                "issuer": f"{base}/{{tenantid}}/v2.0",
                "authorization_endpoint": f"{base}/organizations/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}{TOKEN_PATH}",
                "jwks_uri": f"{base}/organizations/discovery/v2.0/keys",
                "userinfo_endpoint": f"{base}/oidc/userinfo",
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": None,
            },
        )
        recording.answer("GET", "/organizations/discovery/v2.0/keys", 200, {"keys": [KEY.as_dict(private=False)]})
        yield recording


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with opened(f"sqlite:///{tmp_path / 'enclave.db'}", tmp_path / "data") as runtime:
        yield runtime


def microsoft_config(base: str, allowed: tuple[str, ...] = (ACME_TID,)) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {
            "name": "corp",
            "kind": "microsoft",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "options": {"directory": "organizations", "allowed_tenant_ids": allowed, "authority": base},
        }
    )


def ms_sign_in(svc: SignInService, recording: Recording, **overrides: Any) -> LoginResult:
    start = svc.begin(TENANT, "corp", redirect_uri=REDIRECT_URI, next_path="/")
    nonce = parse_qs(urlsplit(start.redirect_url).query)["nonce"][0]
    now = int(time.time())
    tid = overrides.pop("tid", ACME_TID)
    claims = {
        "aud": CLIENT_ID,
        "iss": f"{recording.base}/{tid}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "nonce": nonce,
        "oid": OID,
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": tid,
        "ver": "2.0",
        "name": "Abe Lincoln",
        "preferred_username": "abeli@acme.test",
        "email": "abeli@acme.test",
        "xms_edov": True,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    id_token = jwt.encode({"alg": "RS256", "kid": "ms-key-1", "typ": "JWT"}, claims, KEY)
    recording.answer(
        "POST", TOKEN_PATH, 200, {"token_type": "Bearer", "access_token": "eyJ0eXAi.x.y", "id_token": id_token}
    )
    recording.answer("GET", "/oidc/userinfo", 200, {"sub": claims.get("sub"), "email": claims.get("email")})
    return finish(svc, start, follow_to_callback(start.redirect_url))


def test_identity_is_tid_and_oid(microsoft: Recording, runtime: Runtime) -> None:
    configure(runtime, microsoft_config(microsoft.base))
    result = ms_sign_in(service(runtime), microsoft)
    assert result.user.email == "abeli@acme.test"
    with runtime.sessions() as session:
        assert session.query(UserIdentityRow).one().subject == f"{ACME_TID}:{OID}"


def test_tenant_not_in_the_allowed_list_is_refused(microsoft: Recording, runtime: Runtime) -> None:
    configure(runtime, microsoft_config(microsoft.base))
    with pytest.raises(LoginRefusedError) as refused:
        ms_sign_in(service(runtime), microsoft, tid=OTHER_TID)
    assert refused.value.reason == "tenant_not_allowed"


def test_issuer_of_another_tenant_than_the_tokens_is_refused(microsoft: Recording, runtime: Runtime) -> None:
    configure(runtime, microsoft_config(microsoft.base, allowed=(ACME_TID, OTHER_TID)))
    with pytest.raises(LoginRefusedError) as refused:
        ms_sign_in(service(runtime), microsoft, iss=f"{microsoft.base}/{OTHER_TID}/v2.0")
    assert refused.value.reason == "issuer_mismatch"


def test_email_claim_not_verified_by_its_domain_owner_is_not_trusted(microsoft: Recording, runtime: Runtime) -> None:
    """A guest from another tenant can put any address in `email`: without xms_edov it proves nothing."""
    configure(runtime, microsoft_config(microsoft.base, allowed=(ACME_TID, OTHER_TID)))
    with pytest.raises(LoginRefusedError) as refused:
        ms_sign_in(service(runtime), microsoft, tid=OTHER_TID, email="ceo@acme.test", xms_edov=None)
    assert refused.value.reason == "email_not_verified"


def test_missing_tid_or_oid_is_refused(microsoft: Recording, runtime: Runtime) -> None:
    configure(runtime, microsoft_config(microsoft.base))
    svc = service(runtime)
    with pytest.raises(LoginRefusedError) as no_oid:
        ms_sign_in(svc, microsoft, oid=None)
    assert no_oid.value.reason == "sub_invalid"
    with pytest.raises(LoginRefusedError) as bad_tid:
        ms_sign_in(svc, microsoft, tid="not-a-guid")
    assert bad_tid.value.reason == "tenant_invalid"


def test_microsoft_configuration_is_checked() -> None:
    base = {"name": "ms", "kind": "microsoft", "client_id": "x"}
    with pytest.raises(ValueError, match="needs directory"):
        ProviderConfig.model_validate(base)
    with pytest.raises(ValueError, match="allowed_tenant_ids"):
        ProviderConfig.model_validate({**base, "options": {"directory": "common"}})
    with pytest.raises(ValueError, match="exactly that tenant id"):
        ProviderConfig.model_validate({**base, "options": {"directory": ACME_TID, "allowed_tenant_ids": [OTHER_TID]}})
    with pytest.raises(ValueError, match="do not apply"):
        ProviderConfig.model_validate(
            {**base, "options": {"directory": "common", "allowed_tenant_ids": [ACME_TID], "required_org": "x"}}
        )
