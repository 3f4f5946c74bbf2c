"""Google's own rules on validated claims: `email_verified` required; the Workspace domain (`hd`) when the
tenant requires one (Google's issuer is fixed, so these run on claims; signature and issuer checks are the
OIDC negative suite's)."""

from __future__ import annotations

from typing import Any

import pytest

from auth.sso.config import ProviderConfig
from auth.sso.errors import LoginRefusedError
from auth.sso.providers import identity_from_claims

CLAIMS = {"sub": "110169484474386276334", "email": "ann@acme.test", "email_verified": True, "hd": "acme.test"}


def google(**options: Any) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"name": "google", "kind": "google", "client_id": "x.apps.googleusercontent.com", "options": options}
    )


def test_verified_email_in_the_hosted_domain_is_accepted() -> None:
    identity = identity_from_claims("p1", google(hosted_domain="acme.test"), CLAIMS)
    assert (identity.subject, identity.email, identity.email_verified) == (CLAIMS["sub"], "ann@acme.test", True)


@pytest.mark.parametrize("claims", [{**CLAIMS, "hd": "evil.test"}, {k: v for k, v in CLAIMS.items() if k != "hd"}])
def test_other_or_no_hosted_domain_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(LoginRefusedError) as refused:
        identity_from_claims("p1", google(hosted_domain="acme.test"), claims)
    assert refused.value.reason == "hosted_domain_mismatch"


@pytest.mark.parametrize("verified", [False, "true", None])
def test_email_counts_only_when_email_verified_is_true(verified: object) -> None:
    identity = identity_from_claims("p1", google(), {**CLAIMS, "email_verified": verified})
    assert identity.email is None
    assert not identity.email_verified


def test_google_issuer_is_fixed() -> None:
    with pytest.raises(ValueError, match="issuer is fixed"):
        ProviderConfig.model_validate(
            {"name": "g", "kind": "google", "client_id": "x", "issuer": "https://evil.example"}
        )
    assert google().discovery_issuer == "https://accounts.google.com"
