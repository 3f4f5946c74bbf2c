"""API keys: list, create and revoke — a tenant administrator's, or a signed-in user's own within their role.
One place for the three callers (the API, the account page, the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_

from audit.events import ActorKind
from auth.apikeys import ApiKeyNotFoundError, IssuedKey, create_api_key, list_api_keys, revoke_api_key
from auth.models import ApiKey
from auth.roles import Permission, Role
from auth.users import grantable_roles
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from tenancy.errors import ForbiddenError


@dataclass(frozen=True)
class ApiKeyPage:
    """The tenant's keys, newest first; `next_after` (a key id) continues with older ones (None: the last)."""

    keys: list[ApiKey]
    next_after: str | None


class ApiKeys:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def list(self, access: Access, *, mine: bool = False) -> list[ApiKey]:
        """The tenant's keys (`apikeys.admin`), or with `mine` the signed-in user's own."""
        if mine:
            user_id = access.own_user_id()
            with self._runtime.sessions() as session:
                query = (
                    select(ApiKey)
                    .where(ApiKey.tenant_id == access.tenant, ApiKey.created_by == user_id)
                    .order_by(ApiKey.created_at)
                )
                return list(session.scalars(query))
        access.require(Permission.APIKEYS_ADMIN)
        with self._runtime.sessions() as session:
            return list_api_keys(session, access.tenant)

    def get(self, access: Access, key_id: str) -> ApiKey | None:
        """One of the tenant's keys (`apikeys.admin`), or None."""
        access.require(Permission.APIKEYS_ADMIN)
        with self._runtime.sessions() as session:
            key = session.get(ApiKey, key_id)
        return key if key is not None and key.tenant_id == access.tenant else None

    def page(self, access: Access, *, after: str | None = None, limit: int = 100) -> ApiKeyPage:
        """The tenant's keys newest first (`apikeys.admin`), after the key `after`: keyset paging on (creation
        time, id), so a tenant with thousands of keys pages as fast as one with ten."""
        access.require(Permission.APIKEYS_ADMIN)
        query = select(ApiKey).where(ApiKey.tenant_id == access.tenant)
        with self._runtime.sessions() as session:
            if after:
                last = session.get(ApiKey, after)
                if last is None or last.tenant_id != access.tenant:
                    raise ApiKeyNotFoundError(f"no API key {after!r} in this tenant")
                query = query.where(tuple_(ApiKey.created_at, ApiKey.id) < (last.created_at, last.id))
            order = (ApiKey.created_at.desc(), ApiKey.id.desc())
            keys = list(session.scalars(query.order_by(*order).limit(limit + 1)))
        return ApiKeyPage(keys[:limit], keys[limit - 1].id if len(keys) > limit else None)

    def create(
        self, access: Access, *, role: Role, name: str, ttl_days: int | None = None, mine: bool = False
    ) -> IssuedKey:
        """A new key (audited). An administrator's (`apikeys.admin`) may have any role; with `mine`, a signed-in
        user's own key may do no more than the user. A key created with a key is bound to it: it cannot
        outlive it and goes when it is revoked."""
        if mine:
            access.own_user_id()
            own_role = access.principal.role
            assert isinstance(own_role, Role)  # a signed-in user's
            if role not in grantable_roles(own_role):
                raise ForbiddenError(f"a {own_role} cannot create a {role} key: it would do more than you may")
        else:
            access.require(Permission.APIKEYS_ADMIN)
        ttl, max_ttl = self._runtime.settings.apikey_lifetime(ttl_days)
        creator = access.principal
        parent_id = creator.id if creator.kind is ActorKind.API_KEY else None
        with transaction(self._runtime.sessions) as session:
            return create_api_key(
                session,
                self._runtime.audit,
                access.actor,
                tenant_id=access.tenant,
                role=role,
                name=name,
                ttl=ttl,
                max_ttl=max_ttl,
                parent_id=parent_id,
                shorten_to_parent=ttl_days is None,  # the default fits the creator; an explicit ask must
            )

    def revoke(self, access: Access, key_id: str, *, mine: bool = False) -> ApiKey:
        """Revoke a key and every key it created (audited). With `mine`, only the signed-in user's own key:
        anyone else's is as good as absent."""
        if mine:
            user_id = access.own_user_id()
        else:
            access.require(Permission.APIKEYS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            if mine:
                key = session.get(ApiKey, key_id)
                if key is None or key.tenant_id != access.tenant or key.created_by != user_id:
                    raise ApiKeyNotFoundError(f"no API key {key_id!r} of yours")
            return revoke_api_key(session, self._runtime.audit, access.actor, tenant_id=access.tenant, key_id=key_id)
