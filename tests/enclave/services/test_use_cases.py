"""One use case per act, whoever calls it: each checks the permission it needs itself (the API, the pages and
the command line cannot drift apart), and acts only on the caller's tenant."""

from __future__ import annotations

import pytest

from audit.events import SYSTEM_ACTOR, ActorKind
from auth.principal import OPERATOR, Principal
from auth.roles import Role
from auth.tenants import create_tenant
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services import Access, Services
from tenancy.errors import ForbiddenError, NotFoundError


@pytest.fixture
def services(runtime: Runtime) -> Services:
    with transaction(runtime.sessions) as session:
        create_tenant(session, runtime.audit, SYSTEM_ACTOR, "globex")
    return Services.build(runtime)


def access(role: Role, tenant: str = "acme", kind: ActorKind = ActorKind.API_KEY) -> Access:
    principal = Principal(kind, "0123456789ab", tenant, role)
    return Access.of(principal, ip="192.0.2.1", user_agent="test", request_id=None)


@pytest.mark.parametrize(
    ("act", "allowed"),
    [
        (lambda s, a: s.users.list(a), {Role.ADMIN}),
        (lambda s, a: s.api_keys.list(a), {Role.ADMIN}),
        (lambda s, a: s.sso.providers(a), {Role.ADMIN}),
        (lambda s, a: s.sso.policy(a), {Role.ADMIN}),
        (lambda s, a: s.storage.status(a), {Role.ADMIN, Role.SECURITY_ADMIN}),
        (lambda s, a: s.users.sessions(a, "0" * 32), {Role.ADMIN}),
    ],
)
def test_each_use_case_checks_its_permission(services: Services, act: object, allowed: set[Role]) -> None:
    for role in Role:
        if role in allowed:
            act(services, access(role))  # type: ignore[operator]
        else:
            with pytest.raises(ForbiddenError):
                act(services, access(role))  # type: ignore[operator]


def test_an_api_key_has_no_own_sessions_or_own_keys(services: Services) -> None:
    with pytest.raises(ForbiddenError, match="only a signed-in user"):
        services.users.sessions(access(Role.ADMIN))
    with pytest.raises(ForbiddenError, match="only a signed-in user"):
        services.api_keys.list(access(Role.ADMIN), mine=True)


def test_a_user_key_may_do_no_more_than_its_user(services: Services) -> None:
    viewer = access(Role.VIEWER, kind=ActorKind.USER)
    with pytest.raises(ForbiddenError, match="cannot create a admin key"):
        services.api_keys.create(viewer, role=Role.ADMIN, name="x", mine=True)


def test_the_operator_token_has_no_tenant_and_the_cli_names_one_that_exists() -> None:
    with pytest.raises(ForbiddenError):
        Access.of(OPERATOR, ip=None, user_agent=None, request_id=None)


def test_operator_access_needs_an_existing_tenant(services: Services) -> None:
    with pytest.raises(NotFoundError, match="no tenant 'nobody'"):
        services.tenants.get("nobody")


def test_a_tenant_acts_only_on_itself(services: Services) -> None:
    acme_admin = access(Role.ADMIN)
    globex_operator = Access.operator("globex", SYSTEM_ACTOR)
    issued = services.api_keys.create(globex_operator, role=Role.VIEWER, name="globex-key")
    assert issued.key.id not in {k.id for k in services.api_keys.list(acme_admin)}
    with pytest.raises(NotFoundError):
        services.api_keys.revoke(acme_admin, issued.key.id)
