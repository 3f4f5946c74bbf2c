"""SCIM provisioning as use cases: the tenant's SCIM tokens (customer IT's, `users.admin`), and the directory's
users and groups (the SCIM token's, `scim.provision`), each act in one transaction with its audit records.

After a write, the live sessions of every user whose role changed reload it at once (on every replica), and an
offboarding by the directory finishes at the identity provider (Keycloak) after Enclave access is already gone;
when that step fails the directory is answered 503 and its retry (any write on the user) runs it again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from scim2_models import Group
from scim2_models.path import FilterNode
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.keycloak import KeycloakAdminError
from auth.principal import Principal
from auth.roles import Permission
from auth.scim import groups, users
from auth.scim import tokens as scim_tokens
from auth.scim.directory import Listed, Page
from auth.scim.models import ScimGroupRow, ScimMembershipRow, ScimTokenRow, ScimUserRow
from auth.scim.schema import User
from auth.sessions import SessionStore
from auth.users_offboarding import offboard_at_idp
from enclave.cache import RateLimit, retry_after_seconds
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.users import IdpOffboardingFor, idp_step, idp_unavailable
from tenancy.errors import RateLimitedError

logger = logging.getLogger("enclave.scim")
Written = TypeVar("Written", User, Group)
RETRY_REMEDY = "the directory's next request for this user finishes it"


@dataclass(frozen=True)
class DirectoryStatus:
    """What customer IT sees of its directory's provisioning (the console's overview)."""

    users: int
    enclave_users: int  # directory users with an Enclave account (an email)
    groups: int
    last_change: datetime | None
    tokens: list[ScimTokenRow]


def _written(resource: Written | None) -> Written:
    assert resource is not None  # a write with a base URL renders what it wrote
    return resource


@dataclass(frozen=True)
class ManagedUser:
    """An Enclave user the directory provisions, as the console shows it (its role then follows the directory's
    groups: a role set by hand lasts until their next membership change or sign-in)."""

    user_id: str
    scim_id: str
    user_name: str
    external_id: str | None
    active: bool  # what the directory says (an administrator's offboarding may still keep them out)
    groups: list[str]


class Scim:
    def __init__(self, runtime: Runtime, store: SessionStore, idp_offboarding: IdpOffboardingFor) -> None:
        self._runtime = runtime
        self._store = store
        self._idp_offboarding = idp_offboarding
        settings = runtime.settings
        self._rate = RateLimit(settings.scim_requests_per_token, settings.scim_rate_window_seconds)

    # -- tokens (customer IT) ------------------------------------------------------------------------------
    def tokens(self, access: Access) -> list[ScimTokenRow]:
        access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            return scim_tokens.list_scim_tokens(session, access.tenant)

    def create_token(self, access: Access, *, name: str, ttl_days: int | None = None) -> scim_tokens.IssuedScimToken:
        """A token for the tenant's directory (audited); the secret is returned once."""
        access.require(Permission.USERS_ADMIN)
        ttl = None if ttl_days is None else timedelta(days=ttl_days)
        with transaction(self._runtime.sessions) as session:
            return scim_tokens.create_scim_token(
                session, self._runtime.audit, access.actor, tenant_id=access.tenant, name=name, ttl=ttl
            )

    def rotate_token(self, access: Access, token_id: str, *, overlap_hours: int = 24) -> scim_tokens.IssuedScimToken:
        """A new token in place of `token_id`, which keeps working for `overlap_hours` (0: revoked at once)."""
        access.require(Permission.USERS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            return scim_tokens.rotate_scim_token(
                session,
                self._runtime.audit,
                access.actor,
                tenant_id=access.tenant,
                token_id=token_id,
                overlap=timedelta(hours=overlap_hours),
            )

    def revoke_token(self, access: Access, token_id: str) -> ScimTokenRow:
        access.require(Permission.USERS_ADMIN)
        with transaction(self._runtime.sessions) as session:
            return scim_tokens.revoke_scim_token(
                session, self._runtime.audit, access.actor, tenant_id=access.tenant, token_id=token_id
            )

    def status(self, access: Access) -> DirectoryStatus:
        access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            live = (ScimUserRow.tenant_id == access.tenant) & ScimUserRow.deleted_at.is_(None)
            return DirectoryStatus(
                users=session.scalar(select(func.count()).where(live)) or 0,
                enclave_users=session.scalar(select(func.count()).where(live, ScimUserRow.user_id.is_not(None))) or 0,
                groups=session.scalar(select(func.count()).where(ScimGroupRow.tenant_id == access.tenant)) or 0,
                last_change=max(
                    (
                        moment
                        for moment in (
                            session.scalar(select(func.max(ScimUserRow.updated_at)).where(live)),
                            session.scalar(
                                select(func.max(ScimGroupRow.updated_at)).where(ScimGroupRow.tenant_id == access.tenant)
                            ),
                        )
                        if moment is not None
                    ),
                    default=None,
                ),
                tokens=scim_tokens.list_scim_tokens(session, access.tenant),
            )

    def managed_users(self, access: Access) -> dict[str, ManagedUser]:
        """The tenant's Enclave users the directory provisions, by Enclave user id."""
        access.require(Permission.USERS_ADMIN)
        with self._runtime.sessions() as session:
            rows = session.scalars(
                select(ScimUserRow).where(
                    ScimUserRow.tenant_id == access.tenant,
                    ScimUserRow.deleted_at.is_(None),
                    ScimUserRow.user_id.is_not(None),
                )
            ).all()
            names: dict[str, list[str]] = {row.id: [] for row in rows}
            if rows:
                query = (
                    select(ScimMembershipRow.scim_user_id, ScimGroupRow.display_name)
                    .join(ScimGroupRow, ScimGroupRow.id == ScimMembershipRow.group_id)
                    .where(ScimMembershipRow.scim_user_id.in_(list(names)))
                    .order_by(ScimGroupRow.display_name_key)
                )
                for scim_id, display_name in session.execute(query):
                    names[scim_id].append(display_name)
        return {
            row.user_id: ManagedUser(row.user_id, row.id, row.user_name, row.external_id, row.active, names[row.id])
            for row in rows
            if row.user_id is not None
        }

    # -- the directory ---------------------------------------------------------------------------------------
    def admit(self, principal: Principal) -> None:
        """Spend one of the token's requests in this window (across replicas); RateLimitedError past them."""
        wait = self._runtime.cache.take(f"scim:requests:{principal.id}", self._rate)
        if wait > 0:
            logger.warning("SCIM token rate-limited", extra={"token": principal.id})
            raise RateLimitedError(
                "too many SCIM requests with this token; try again later", retry_after=retry_after_seconds(wait)
            )

    def list_users(self, access: Access, node: FilterNode | None, page: Page, base_url: str) -> Listed[User]:
        access.require(Permission.SCIM_PROVISION)
        with self._runtime.sessions() as session:
            found = users.list_users(session, access.tenant, node, page)
            return Listed(found.total, users.to_resources(session, found.rows, base_url))

    def user(self, access: Access, scim_id: str, base_url: str) -> User:
        access.require(Permission.SCIM_PROVISION)
        with self._runtime.sessions() as session:
            return users.to_resource(session, users.find_user(session, access.tenant, scim_id), base_url)

    def create_user(self, access: Access, payload: Any, base_url: str) -> User:
        def act(session: Session) -> users.UserWrite:
            return users.create_directory_user(
                session, self._runtime.audit, access.actor, self._store, access.tenant, payload
            )

        return _written(self._write_user(access, base_url, act))

    def replace_user(self, access: Access, scim_id: str, payload: Any, base_url: str, if_match: str | None) -> User:
        return self._modify_user(access, users.replace_directory_user, scim_id, payload, base_url, if_match)

    def patch_user(self, access: Access, scim_id: str, payload: Any, base_url: str, if_match: str | None) -> User:
        return self._modify_user(access, users.patch_directory_user, scim_id, payload, base_url, if_match)

    def delete_user(self, access: Access, scim_id: str, if_match: str | None) -> None:
        def act(session: Session) -> users.UserWrite:
            audit, actor, store, tenant = self._runtime.audit, access.actor, self._store, access.tenant
            return users.delete_directory_user(session, audit, actor, store, tenant, scim_id, if_match=if_match)

        self._write_user(access, None, act)

    def list_groups(
        self, access: Access, node: FilterNode | None, page: Page, base_url: str, *, members: bool = True
    ) -> Listed[Group]:
        access.require(Permission.SCIM_PROVISION)
        with self._runtime.sessions() as session:
            found = groups.list_groups(session, access.tenant, node, page)
            return Listed(found.total, groups.to_resources(session, found.rows, base_url, members=members))

    def group(self, access: Access, group_id: str, base_url: str, *, members: bool = True) -> Group:
        access.require(Permission.SCIM_PROVISION)
        with self._runtime.sessions() as session:
            row = groups.find_group(session, access.tenant, group_id)
            return groups.to_resources(session, [row], base_url, members=members)[0]

    def create_group(self, access: Access, payload: Any, base_url: str) -> Group:
        def act(session: Session) -> groups.GroupWrite:
            return groups.create_directory_group(session, self._runtime.audit, access.actor, access.tenant, payload)

        return _written(self._write_group(access, base_url, act))

    def replace_group(self, access: Access, group_id: str, payload: Any, base_url: str, if_match: str | None) -> Group:
        return self._modify_group(access, groups.replace_directory_group, group_id, payload, base_url, if_match)

    def patch_group(self, access: Access, group_id: str, payload: Any, base_url: str, if_match: str | None) -> Group:
        return self._modify_group(access, groups.patch_directory_group, group_id, payload, base_url, if_match)

    def delete_group(self, access: Access, group_id: str, if_match: str | None) -> None:
        def act(session: Session) -> groups.GroupWrite:
            audit, actor, tenant = self._runtime.audit, access.actor, access.tenant
            return groups.delete_directory_group(session, audit, actor, tenant, group_id, if_match=if_match)

        self._write_group(access, None, act)

    # -- what every write shares -------------------------------------------------------------------------------
    def _modify_user(
        self,
        access: Access,
        modify: Callable[..., users.UserWrite],
        scim_id: str,
        payload: Any,
        base_url: str,
        if_match: str | None,
    ) -> User:
        def act(session: Session) -> users.UserWrite:
            audit, actor, store, tenant = self._runtime.audit, access.actor, self._store, access.tenant
            return modify(session, audit, actor, store, tenant, scim_id, payload, base_url=base_url, if_match=if_match)

        return _written(self._write_user(access, base_url, act))

    def _modify_group(
        self,
        access: Access,
        modify: Callable[..., groups.GroupWrite],
        group_id: str,
        payload: Any,
        base_url: str,
        if_match: str | None,
    ) -> Group:
        def act(session: Session) -> groups.GroupWrite:
            audit, actor, tenant = self._runtime.audit, access.actor, access.tenant
            return modify(session, audit, actor, tenant, group_id, payload, base_url=base_url, if_match=if_match)

        return _written(self._write_group(access, base_url, act))

    def _write_user(
        self, access: Access, base_url: str | None, act: Callable[[Session], users.UserWrite]
    ) -> User | None:
        """Run `act` in one transaction, then finish it; the user as it now is (None without `base_url`)."""
        access.require(Permission.SCIM_PROVISION)
        with transaction(self._runtime.sessions) as session:
            write = act(session)
            self._refresh(session, access.tenant, write.role_changed)
            resource = None if base_url is None else users.to_resource(session, write.row, base_url)
        self._refresh_committed(access.tenant, write.role_changed)
        if write.idp_offboarding_email is not None:
            self._finish_idp_offboarding(access, write.row.id, write.idp_offboarding_email)
        return resource

    def _write_group(
        self, access: Access, base_url: str | None, act: Callable[[Session], groups.GroupWrite]
    ) -> Group | None:
        """Run `act` in one transaction; the group as it now is (None without `base_url`, or once deleted)."""
        access.require(Permission.SCIM_PROVISION)
        with transaction(self._runtime.sessions) as session:
            write = act(session)
            self._refresh(session, access.tenant, write.role_changed)
            resource = (
                None if base_url is None or write.row is None else groups.to_resource(session, write.row, base_url)
            )
        self._refresh_committed(access.tenant, write.role_changed)
        return resource

    def _refresh(self, session: Session, tenant: str, user_ids: list[str]) -> None:
        """Live sessions carry the new role from their next request, on every replica. Inside the transaction:
        a cache that cannot be told fails the change (closed)."""
        for user_id in user_ids:
            self._store.refresh_user(session, tenant, user_id)

    def _refresh_committed(self, tenant: str, user_ids: list[str]) -> None:
        """Told again once the change is committed: a replica that reloaded a session between the first telling
        and the commit read the old role, and must read it again."""
        if user_ids:
            with self._runtime.sessions() as session:
                self._refresh(session, tenant, user_ids)

    def _finish_idp_offboarding(self, access: Access, scim_id: str, email: str) -> None:
        """The identity provider's step of a directory offboarding (audited); 503 when it fails (Enclave access
        is gone already; the flag stays, and the directory's next write on the user runs it again)."""
        idp = idp_step(self._idp_offboarding, access.tenant)
        if idp is not None:
            try:
                offboard_at_idp(
                    self._runtime.sessions,
                    self._runtime.audit,
                    access.actor,
                    tenant_id=access.tenant,
                    email=email,
                    idp=idp,
                )
            except KeycloakAdminError as exc:
                raise idp_unavailable(exc, RETRY_REMEDY) from None
        with transaction(self._runtime.sessions) as session:
            users.finish_idp_offboarding(session, scim_id)
