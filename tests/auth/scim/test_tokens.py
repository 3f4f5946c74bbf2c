"""SCIM tokens: shown once and stored as a hash, a `scim` principal that may only provision, every refusal with
its precise reason, rotation with an overlap, revocation at once, and another tenant's token as good as absent."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from audit.events import SYSTEM_ACTOR, ActorKind, utc_now
from audit.store.tables import audit_records
from auth.authn import AuthenticationError, Credentials
from auth.roles import Permission, ServiceRole
from auth.scim.models import ScimTokenRow
from auth.scim.tokens import (
    ScimTokenAuthenticator,
    ScimTokenConflictError,
    ScimTokenElsewhere,
    ScimTokenError,
    ScimTokenNotFoundError,
    check_scim_token,
    create_scim_token,
    list_scim_tokens,
    revoke_scim_token,
    rotate_scim_token,
    token_state,
)
from auth.tenants import create_tenant
from enclave.db import transaction
from enclave.runtime import Runtime
from tenancy.errors import UnauthenticatedError
from tests.auth.scim.helpers import TENANT


def issue(runtime: Runtime, name: str = "okta", ttl: timedelta | None = None, tenant: str = TENANT) -> tuple[str, str]:
    with transaction(runtime.sessions) as session:
        issued = create_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=tenant, name=name, ttl=ttl)
    return issued.token.id, issued.secret


def check(runtime: Runtime, token: str, **kwargs: object) -> object:
    with transaction(runtime.sessions) as session:
        return check_scim_token(session, token, **kwargs)  # type: ignore[arg-type]


def test_the_secret_is_shown_once_and_stored_only_as_its_hash(runtime: Runtime) -> None:
    token_id, secret = issue(runtime)
    assert secret.startswith(f"scim_{token_id}_") and len(secret) == len("scim_") + 12 + 1 + 43
    with runtime.sessions() as session:
        row = session.get(ScimTokenRow, token_id)
        assert row is not None and row.expires_at is None  # until revoked
        assert row.secret_hash == hashlib.sha256(secret.split("_", 2)[2].encode()).hexdigest()
        bodies = b"".join(session.execute(select(audit_records.c.body)).scalars())
    assert secret.split("_", 2)[2].encode() not in bodies  # never in an audit record


def test_a_token_is_the_directorys_principal_that_may_only_provision(runtime: Runtime) -> None:
    token_id, secret = issue(runtime)
    principal = check(runtime, secret)
    assert principal.kind is ActorKind.SYSTEM and principal.id == f"scim:{token_id}"  # type: ignore[attr-defined]
    assert principal.tenant == TENANT and principal.role is ServiceRole.SCIM  # type: ignore[attr-defined]
    assert principal.can(Permission.SCIM_PROVISION)  # type: ignore[attr-defined]
    assert not any(principal.can(p) for p in Permission if p is not Permission.SCIM_PROVISION)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mangle", "reason", "has_tenant"),
    [
        (lambda s: s[:-1], "malformed SCIM token", False),
        (lambda s: "scim_ffffffffffff_" + s.split("_", 2)[2], "unknown SCIM token", False),
        (lambda s: s[:-4] + ("AAAA" if not s.endswith("AAAA") else "BBBB"), "wrong secret", True),
    ],
)
def test_each_refusal_names_its_reason(runtime: Runtime, mangle: object, reason: str, has_tenant: bool) -> None:
    _, secret = issue(runtime)
    with pytest.raises(AuthenticationError) as refused:
        check(runtime, mangle(secret))  # type: ignore[operator]
    assert refused.value.reason == reason and str(refused.value) == "invalid credentials"
    assert (refused.value.tenant == TENANT) is has_tenant
    assert refused.value.action == "scim.token.used.denied"


def test_revoked_and_expired_tokens_are_refused(runtime: Runtime) -> None:
    token_id, secret = issue(runtime, ttl=timedelta(days=1))
    with pytest.raises(AuthenticationError, match="invalid credentials") as refused:
        check(runtime, secret, now=utc_now() + timedelta(days=2))
    assert refused.value.reason == "expired"
    with transaction(runtime.sessions) as session:
        revoke_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=token_id)
    with pytest.raises(AuthenticationError) as refused:
        check(runtime, secret)
    assert refused.value.reason == "revoked"
    with transaction(runtime.sessions) as session, pytest.raises(ScimTokenConflictError):
        revoke_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=token_id)


def test_rotation_keeps_the_old_token_for_the_overlap_then_it_ends(runtime: Runtime) -> None:
    old_id, old_secret = issue(runtime)
    with transaction(runtime.sessions) as session:
        new = rotate_scim_token(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=old_id, overlap=timedelta(hours=2)
        )
    check(runtime, old_secret)  # still good during the overlap
    check(runtime, new.secret)
    with pytest.raises(AuthenticationError, match="invalid credentials"):
        check(runtime, old_secret, now=utc_now() + timedelta(hours=3))
    with runtime.sessions() as session:
        old = session.get(ScimTokenRow, old_id)
        assert old is not None and old.replaced_by == new.token.id and new.token.name == "okta"
    with transaction(runtime.sessions) as session:
        immediate = rotate_scim_token(
            session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=new.token.id, overlap=timedelta(0)
        )
    with pytest.raises(AuthenticationError):
        check(runtime, new.secret)
    check(runtime, immediate.secret)


@pytest.mark.parametrize("overlap", [timedelta(days=8), timedelta(seconds=-1)])
def test_a_rotation_overlap_past_a_week_or_negative_is_refused(runtime: Runtime, overlap: timedelta) -> None:
    token_id, _ = issue(runtime)
    with transaction(runtime.sessions) as session, pytest.raises(ScimTokenError, match="between 0 and 7 days"):
        rotate_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=token_id, overlap=overlap)


def test_bad_names_and_lifetimes_are_refused(runtime: Runtime) -> None:
    for name in ("", "x" * 101, "no/slash"):
        with transaction(runtime.sessions) as session, pytest.raises(ScimTokenError, match="token name"):
            create_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, name=name)
    with transaction(runtime.sessions) as session, pytest.raises(ScimTokenError, match="at least 1 day"):
        create_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, name="x", ttl=timedelta(hours=1))


def test_another_tenants_token_is_as_good_as_absent(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    theirs, _ = issue(runtime, tenant="globex")
    with transaction(runtime.sessions) as session, pytest.raises(ScimTokenNotFoundError):
        revoke_scim_token(session, runtime.audit, SYSTEM_ACTOR, tenant_id=TENANT, token_id=theirs)
    with runtime.sessions() as session:
        assert list_scim_tokens(session, TENANT) == []
        assert [t.id for t in list_scim_tokens(session, "globex")] == [theirs]


def test_scim_tokens_are_refused_outside_scim_and_nothing_else_is_accepted_inside(runtime: Runtime) -> None:
    token_id, secret = issue(runtime)
    elsewhere = ScimTokenElsewhere(runtime.sessions)
    with pytest.raises(AuthenticationError) as refused:
        elsewhere.authenticate(Credentials(authorization=f"Bearer {secret}"))
    assert refused.value.reason == "a SCIM token is accepted on /scim/v2 only"
    assert refused.value.tenant == TENANT and refused.value.subject == f"scim:{token_id}"
    assert elsewhere.authenticate(Credentials(authorization="Bearer enc_0123456789ab_x")) is None
    inside = ScimTokenAuthenticator(runtime.sessions)
    assert inside.authenticate(Credentials(authorization=f"Bearer {secret}")).id == f"scim:{token_id}"
    with pytest.raises(AuthenticationError, match="invalid credentials") as refused:
        inside.authenticate(Credentials(authorization="Bearer enc_0123456789ab_" + "a" * 43))
    assert "not a SCIM token" in refused.value.reason
    with pytest.raises(UnauthenticatedError, match="SCIM token"):
        inside.authenticate(Credentials(cookies={"__Host-enclave-session": "x"}))


def test_token_states(runtime: Runtime) -> None:
    token_id, _ = issue(runtime, ttl=timedelta(days=1))
    with runtime.sessions() as session:
        row = session.get(ScimTokenRow, token_id)
        assert row is not None
        assert token_state(row) == "active"
        assert token_state(row, utc_now() + timedelta(days=2)) == "expired"
