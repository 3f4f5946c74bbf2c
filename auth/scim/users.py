"""The directory's users: created, read, listed, replaced, patched and deleted through SCIM, and what each act
means for the Enclave user behind them. Every function works in the caller's transaction and audits there.

- A directory user with an email address (the primary one, else a work one, else any, else a userName that is an
  address) is an Enclave user with that email. A new one is created as an invited user: it has never signed in
  and has no linked account, so its first SSO sign-in claims it by an email the provider speaks for (docs/sso.md).
  An existing Enclave user with that email is taken over (adopted) unless another directory user has it, or an
  Enclave administrator offboarded them: the directory cannot undo that. `externalId` is the directory's own
  identifier, kept and filterable, never a sign-in identity: a mapping the directory's administrators choose
  (Entra's default is mailNickname) cannot decide who signs in.
- `active: false` (and a deletion) offboards the Enclave user exactly as an administrator does (auth.
  users_offboarding): disabled, every session and API key ended, in this transaction; the identity provider's
  step (Keycloak) follows the commit and is retried on the directory's next write while it has not succeeded.
  `active: true` enables the user again only when it was the directory's deactivation that disabled them.
- A deleted user stays as a tombstone (no keys, no attributes) so that re-creating the person later finds that the
  directory, not an administrator, disabled them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
    GroupMembership,
    InvalidValueException,
    NotFoundException,
    PatchOp,
    UniquenessException,
)
from scim2_models.path import FilterNode
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, utc_now
from audit.store.log import AuditLog
from auth.models import Tenant
from auth.models import User as EnclaveUser
from auth.roles import Role
from auth.scim.directory import (
    Listed,
    Page,
    bounded,
    check_if_match,
    meta,
    new_id,
    recompute_roles,
    validated,
    without_null_selectors,
)
from auth.scim.filters import USERS, comparison_key, filter_condition
from auth.scim.models import (
    EMAIL_LENGTH,
    NAME_LENGTH,
    ScimGroupRow,
    ScimMembershipRow,
    ScimUserEmailRow,
    ScimUserRow,
)
from auth.scim.schema import POLICY, User
from auth.sessions import SessionStore
from auth.users import UserError, create_user, find_user_by_email, normalise_email
from auth.users_offboarding import offboard_locally

MAX_ATTRIBUTES_BYTES = 60_000  # what one user's stored representation may take
MAX_EMAILS = 20
DISPLAY_NAME_LENGTH = 200  # the Enclave user's
_SERVER_KEYS = ("schemas", "id", "meta", "groups")  # attributes the service sets, never stored from a request


@dataclass(frozen=True)
class UserWrite:
    """What a write did that its caller finishes after the commit: the Enclave users whose role changed (their
    live sessions reload it), and the email whose offboarding still has its identity-provider step to run."""

    row: ScimUserRow
    role_changed: list[str]
    idp_offboarding_email: str | None


def find_user(session: Session, tenant_id: str, scim_id: str, *, for_update: bool = False) -> ScimUserRow:
    row = session.get(ScimUserRow, scim_id, with_for_update=for_update)
    if row is None or row.tenant_id != tenant_id or row.deleted_at is not None:
        raise NotFoundException(detail="no such user in this directory")  # the id is not echoed
    return row


def list_users(session: Session, tenant_id: str, node: FilterNode | None, page: Page) -> Listed[ScimUserRow]:
    """The tenant's directory users matching `node`, oldest first (a stable order: RFC 7644 §3.4.2.4)."""
    condition = (ScimUserRow.tenant_id == tenant_id) & ScimUserRow.deleted_at.is_(None) & filter_condition(USERS, node)
    total = session.scalar(select(func.count()).select_from(ScimUserRow).where(condition)) or 0
    query = select(ScimUserRow).where(condition).order_by(ScimUserRow.created_at, ScimUserRow.id)
    return Listed(total, list(session.scalars(query.offset(page.offset).limit(page.count))))


def to_resources(session: Session, rows: list[ScimUserRow], base_url: str) -> list[User]:
    """The SCIM representation of each row, with its groups (one query for all of them) and metadata."""
    memberships: dict[str, list[GroupMembership]] = {row.id: [] for row in rows}
    if rows:
        query = (
            select(ScimMembershipRow.scim_user_id, ScimGroupRow.id, ScimGroupRow.display_name)
            .join(ScimGroupRow, ScimGroupRow.id == ScimMembershipRow.group_id)
            .where(ScimMembershipRow.scim_user_id.in_(list(memberships)))
            .order_by(ScimGroupRow.display_name_key)
        )
        for user_id, group_id, display_name in session.execute(query):
            memberships[user_id].append(
                GroupMembership.model_validate(
                    {
                        "value": group_id,
                        "$ref": f"{base_url}/Groups/{group_id}",
                        "display": display_name,
                        "type": "direct",
                    }
                )
            )
    resources = []
    for row in rows:
        resource = User.model_validate(json.loads(row.attributes))
        resource.id = row.id
        resource.groups = memberships[row.id] or None
        resource.meta = meta("User", f"{base_url}/Users/{row.id}", row.created_at, row.updated_at, row.version)
        resources.append(resource)
    return resources


def to_resource(session: Session, row: ScimUserRow, base_url: str) -> User:
    return to_resources(session, [row], base_url)[0]


def enclave_email(resource: User) -> str | None:
    """The email the Enclave user signs in with: the primary address, else a work one, else any, else the
    userName when it is an address; None when none is one (auth.users' rule), and then there is no Enclave user."""
    emails = resource.emails or []
    ordered = (
        [e for e in emails if e.primary]
        + [e for e in emails if not e.primary and (e.type or "").lower() == "work"]
        + [e for e in emails if not e.primary and (e.type or "").lower() != "work"]
    )
    for candidate in [e.value for e in ordered if e.value] + [resource.user_name or ""]:
        try:
            return normalise_email(candidate)
        except UserError:
            continue
    return None


def display_name_of(resource: User) -> str | None:
    name = resource.name
    parts = [name.given_name, name.family_name] if name else []
    shown = resource.display_name or (name.formatted if name else None) or " ".join(p for p in parts if p) or None
    return shown[:DISPLAY_NAME_LENGTH] if shown else None


def _stored(resource: User) -> tuple[dict[str, Any], str]:
    """The attributes kept for `resource` (what the service sets is left out), as a dict and as JSON; refused
    past its size, or with values Enclave cannot keep."""
    bounded(resource.user_name, "userName", NAME_LENGTH)
    if not (resource.user_name or "").strip():
        raise InvalidValueException(detail="userName must not be empty")
    bounded(resource.external_id, "externalId", NAME_LENGTH)
    bounded(resource.display_name, "displayName", NAME_LENGTH)
    emails = resource.emails or []
    if len(emails) > MAX_EMAILS:
        raise InvalidValueException(detail=f"a user has at most {MAX_EMAILS} emails")
    for entry in emails:
        bounded(entry.value, "emails.value", EMAIL_LENGTH)
        bounded(entry.type, "emails.type", 64)
    attributes = {k: v for k, v in resource.model_dump(scim_ctx=Context.DEFAULT).items() if k not in _SERVER_KEYS}
    text = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > MAX_ATTRIBUTES_BYTES:
        raise InvalidValueException(detail=f"a user's attributes take at most {MAX_ATTRIBUTES_BYTES} bytes")
    return attributes, text


def _check_user_name_free(session: Session, row: ScimUserRow, key: str) -> None:
    taken = session.scalars(
        select(ScimUserRow.id).where(
            ScimUserRow.tenant_id == row.tenant_id, ScimUserRow.user_name_key == key, ScimUserRow.id != row.id
        )
    ).first()
    if taken is not None:
        raise UniquenessException(attribute="userName", detail="another user of the directory has this userName")


def _link(
    session: Session, audit: AuditLog, actor: Actor, row: ScimUserRow, email: str, shown: str | None
) -> EnclaveUser:
    """The Enclave user the directory user `row` becomes: a new (invited) one, or the one with that email."""
    tenant = session.get(Tenant, row.tenant_id)
    assert tenant is not None
    existing = find_user_by_email(session, row.tenant_id, email)
    if existing is None:
        return create_user(
            session,
            audit,
            actor,
            tenant_id=row.tenant_id,
            email=email,
            role=Role(tenant.default_role),
            display_name=shown,
            via="scim",
        )
    holder = session.scalars(select(ScimUserRow).where(ScimUserRow.user_id == existing.id)).first()
    released = False
    if holder is not None and holder.id != row.id:
        if holder.deleted_at is None:
            raise UniquenessException(attribute="emails", detail=f"another user of the directory has the email {email}")
        released = holder.disabled_by_directory  # the directory re-creates a person it deleted
        session.delete(holder)
        session.flush()
    if existing.disabled_at is not None and not released:
        raise UniquenessException(
            attribute="emails",
            detail=f"{email} is the email of an Enclave user an administrator offboarded; the directory cannot "
            "bring them back",
        )
    row.disabled_by_directory = released
    return existing


def _set_email(session: Session, user: EnclaveUser, email: str) -> dict[str, str] | None:
    if email == user.email:
        return None
    other = find_user_by_email(session, user.tenant_id, email)
    if other is not None:
        raise UniquenessException(attribute="emails", detail=f"another Enclave user has the email {email}")
    previous, user.email = user.email, email
    return {"from": previous, "to": email}


def _apply_active(
    session: Session, audit: AuditLog, actor: Actor, store: SessionStore, row: ScimUserRow, user: EnclaveUser
) -> None:
    """The Enclave side of `active`: false offboards an enabled user (as an administrator would, with the identity
    provider's step left pending for the caller); true enables one only the directory disabled."""
    if not row.active and user.disabled_at is None:
        offboard_locally(session, audit, actor, store, row.tenant_id, user.email)
        row.disabled_by_directory = True
        row.idp_offboarding_pending = True
    elif row.active and user.disabled_at is not None and row.disabled_by_directory:
        user.disabled_at = None
        row.disabled_by_directory = False
        audit.append(
            session,
            AuditEvent(
                tenant=row.tenant_id,
                actor=actor,
                action="auth.user.enabled",
                target=f"user:{user.id}",
                reason="the directory activated them again",
            ),
        )


def _save(
    session: Session, audit: AuditLog, actor: Actor, store: SessionStore, row: ScimUserRow, resource: User
) -> tuple[UserWrite, dict[str, Any]]:
    """Store `resource` as `row` and bring its Enclave user in line. (what the caller finishes, audit details)"""
    _, text = _stored(resource)
    assert resource.user_name is not None
    key = comparison_key(resource.user_name)
    _check_user_name_free(session, row, key)
    row.user_name, row.user_name_key = resource.user_name, key
    row.external_id = resource.external_id
    row.display_name_key = comparison_key(resource.display_name) if resource.display_name else None
    row.active = resource.active is not False  # absent is active (RFC 7643 §4.1.1 leaves it to the provider)
    row.attributes = text
    row.updated_at = utc_now()
    session.add(row)
    session.flush()
    session.execute(delete(ScimUserEmailRow).where(ScimUserEmailRow.scim_user_id == row.id))
    for entry in resource.emails or []:
        if entry.value:
            session.add(
                ScimUserEmailRow(
                    tenant_id=row.tenant_id,
                    scim_user_id=row.id,
                    value_key=comparison_key(entry.value),
                    type_key=comparison_key(entry.type) if entry.type else None,
                )
            )
    details: dict[str, Any] = {}
    email, shown = enclave_email(resource), display_name_of(resource)
    user = session.get(EnclaveUser, row.user_id) if row.user_id else None
    linked = False
    if user is None and email is not None:
        user, linked = _link(session, audit, actor, row, email, shown), True
        row.user_id = user.id
        session.flush()
        details["user"] = f"user:{user.id}"
    elif user is not None and email is not None:
        change = _set_email(session, user, email)
        if change:
            details["email"] = change
    role_changed: list[str] = []
    if user is not None:
        if shown and user.display_name != shown:
            user.display_name = shown
        _apply_active(session, audit, actor, store, row, user)
        if linked:
            role_changed = recompute_roles(session, audit, actor, row.tenant_id, [row.id], governed_only=True)
    pending = user.email if user is not None and row.idp_offboarding_pending else None
    return UserWrite(row, role_changed, pending), details


def _record(session: Session, audit: AuditLog, actor: Actor, action: str, row: ScimUserRow, **details: Any) -> None:
    audit.append(
        session,
        AuditEvent(
            tenant=row.tenant_id,
            actor=actor,
            action=action,
            target=f"scim-user:{row.id}",
            details={"userName": row.user_name, "externalId": row.external_id, **details},
        ),
    )


def create_directory_user(
    session: Session, audit: AuditLog, actor: Actor, store: SessionStore, tenant_id: str, payload: Any
) -> UserWrite:
    """POST /Users (RFC 7644 §3.3)."""
    resource = validated(User, payload, Context.RESOURCE_CREATION_REQUEST)
    now = utc_now()
    row = ScimUserRow(
        id=new_id(),
        tenant_id=tenant_id,
        version=1,
        created_at=now,
        updated_at=now,
        disabled_by_directory=False,
        idp_offboarding_pending=False,
    )
    write, details = _save(session, audit, actor, store, row, resource)
    _record(session, audit, actor, "scim.user.created", row, active=row.active, **details)
    return write


def _changed(before: User, after: User) -> list[str]:
    old, new = before.model_dump(scim_ctx=Context.DEFAULT), after.model_dump(scim_ctx=Context.DEFAULT)
    return sorted(k for k in set(old) | set(new) if k not in _SERVER_KEYS and old.get(k) != new.get(k))


def _update(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    row: ScimUserRow,
    before: User,
    after: User,
    changed: bool,
) -> UserWrite:
    if not changed:  # nothing to store: the version stays; a pending identity-provider step is still reported
        user = session.get(EnclaveUser, row.user_id) if row.user_id else None
        return UserWrite(row, [], user.email if user is not None and row.idp_offboarding_pending else None)
    row.version += 1
    write, details = _save(session, audit, actor, store, row, after)
    _record(session, audit, actor, "scim.user.updated", row, changed=_changed(before, after), **details)
    return write


def _modify(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    tenant_id: str,
    scim_id: str,
    change: Callable[[User], tuple[User, bool]],
    *,
    base_url: str,
    if_match: str | None,
) -> UserWrite:
    """A change to the stored user (its version checked against `if_match`): `change` gives the new state of
    the current one, and whether it differs."""
    row = find_user(session, tenant_id, scim_id, for_update=True)
    check_if_match(row.version, if_match)
    current = to_resource(session, row, base_url)
    after, changed = change(current)
    return _update(session, audit, actor, store, row, current, after, changed)


def replace_directory_user(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    tenant_id: str,
    scim_id: str,
    payload: Any,
    *,
    base_url: str,
    if_match: str | None = None,
) -> UserWrite:
    """PUT /Users/{id} (RFC 7644 §3.5.1): read-only attributes (id, groups, meta) are kept, immutable ones must
    not change, everything else is what the request says."""
    replacement = validated(User, payload, Context.RESOURCE_REPLACEMENT_REQUEST)

    def replace(current: User) -> tuple[User, bool]:
        return replacement, replacement.replace(current)

    return _modify(session, audit, actor, store, tenant_id, scim_id, replace, base_url=base_url, if_match=if_match)


def patch_directory_user(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    tenant_id: str,
    scim_id: str,
    payload: Any,
    *,
    base_url: str,
    if_match: str | None = None,
) -> UserWrite:
    """PATCH /Users/{id} (RFC 7644 §3.5.2), applied by scim2-models as a whole or not at all, in the shapes Okta
    and Entra send (auth.scim.schema.POLICY)."""
    patch = validated(PatchOp[User], without_null_selectors(payload), Context.RESOURCE_PATCH_REQUEST)

    def apply(current: User) -> tuple[User, bool]:
        patched = current.model_copy(deep=True)
        return patched, patch.patch(patched, scim_policy=POLICY)

    return _modify(session, audit, actor, store, tenant_id, scim_id, apply, base_url=base_url, if_match=if_match)


def delete_directory_user(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    store: SessionStore,
    tenant_id: str,
    scim_id: str,
    *,
    if_match: str | None = None,
) -> UserWrite:
    """DELETE /Users/{id} (RFC 7644 §3.6): out of its groups, offboarded, no longer the directory's; a tombstone
    remembers whether the directory disabled the Enclave user."""
    row = find_user(session, tenant_id, scim_id, for_update=True)
    check_if_match(row.version, if_match)
    groups = list(session.scalars(select(ScimMembershipRow.group_id).where(ScimMembershipRow.scim_user_id == row.id)))
    for group_id in groups:
        audit.append(
            session,
            AuditEvent(
                tenant=tenant_id,
                actor=actor,
                action="scim.group.member.removed",
                target=f"scim-group:{group_id}",
                reason="the user was deleted",
                details={"member": f"scim-user:{row.id}", "user": f"user:{row.user_id}" if row.user_id else None},
            ),
        )
    session.execute(delete(ScimMembershipRow).where(ScimMembershipRow.scim_user_id == row.id))
    session.execute(
        update(ScimGroupRow)
        .where(ScimGroupRow.id.in_(groups))
        .values(version=ScimGroupRow.version + 1, updated_at=utc_now())
    )
    session.execute(delete(ScimUserEmailRow).where(ScimUserEmailRow.scim_user_id == row.id))
    _record(session, audit, actor, "scim.user.deleted", row, groups=len(groups))
    user = session.get(EnclaveUser, row.user_id) if row.user_id else None
    if user is None:
        session.delete(row)
        return UserWrite(row, [], None)
    row.active = False
    _apply_active(session, audit, actor, store, row, user)
    row.deleted_at = utc_now()
    row.user_name_key = row.external_id = row.display_name_key = None
    row.attributes = "{}"
    row.version += 1
    return UserWrite(row, [], user.email if row.idp_offboarding_pending else None)


def finish_idp_offboarding(session: Session, scim_id: str) -> None:
    """The identity provider's step of a directory offboarding succeeded."""
    session.execute(update(ScimUserRow).where(ScimUserRow.id == scim_id).values(idp_offboarding_pending=False))


def release_to_administrators(session: Session, user_id: str) -> None:
    """An administrator offboarded this Enclave user: a later reactivation by the directory does not undo it."""
    session.execute(update(ScimUserRow).where(ScimUserRow.user_id == user_id).values(disabled_by_directory=False))
