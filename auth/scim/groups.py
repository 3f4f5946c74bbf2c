"""The directory's groups: created, read, listed, replaced, patched and deleted through SCIM. Their members are
the directory's users (nested groups are refused); every membership added or removed is audited, and every user
it touches has their role recomputed in the same transaction (auth.scim.directory.recompute_roles), as does every
member of a group renamed or deleted: the displayName is what the role mapping reads. Every function works in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
    Group,
    GroupMember,
    InvalidValueException,
    NotFoundException,
    PatchOp,
    UniquenessException,
)
from scim2_models.path import FilterNode
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, utc_now
from audit.store.log import AuditLog
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
from auth.scim.filters import GROUPS, comparison_key, filter_condition
from auth.scim.models import NAME_LENGTH, ScimGroupRow, ScimMembershipRow, ScimUserRow
from auth.scim.schema import POLICY


@dataclass(frozen=True)
class GroupWrite:
    """The group written (None once deleted) and the Enclave users whose role changed (their live sessions
    reload it)."""

    row: ScimGroupRow | None
    role_changed: list[str]


def find_group(session: Session, tenant_id: str, group_id: str, *, for_update: bool = False) -> ScimGroupRow:
    row = session.get(ScimGroupRow, group_id, with_for_update=for_update)
    if row is None or row.tenant_id != tenant_id:
        raise NotFoundException(detail="no such group in this directory")  # the id is not echoed
    return row


def list_groups(session: Session, tenant_id: str, node: FilterNode | None, page: Page) -> Listed[ScimGroupRow]:
    """The tenant's directory groups matching `node`, oldest first (a stable order: RFC 7644 §3.4.2.4)."""
    condition = (ScimGroupRow.tenant_id == tenant_id) & filter_condition(GROUPS, node)
    total = session.scalar(select(func.count()).select_from(ScimGroupRow).where(condition)) or 0
    query = select(ScimGroupRow).where(condition).order_by(ScimGroupRow.created_at, ScimGroupRow.id)
    return Listed(total, list(session.scalars(query.offset(page.offset).limit(page.count))))


def to_resources(session: Session, rows: list[ScimGroupRow], base_url: str, *, members: bool = True) -> list[Group]:
    """The SCIM representation of each row; `members` False leaves them out without reading them (Entra asks
    with `excludedAttributes=members`)."""
    listed: dict[str, list[GroupMember]] = {row.id: [] for row in rows}
    if members and rows:
        query = (
            select(ScimMembershipRow)
            .where(ScimMembershipRow.group_id.in_(list(listed)))
            .order_by(ScimMembershipRow.scim_user_id)
        )
        for member in session.scalars(query):
            listed[member.group_id].append(
                GroupMember.model_validate(
                    {
                        "value": member.scim_user_id,
                        "$ref": f"{base_url}/Users/{member.scim_user_id}",
                        "type": "User",
                        "display": member.display,
                    }
                )
            )
    return [
        Group(
            id=row.id,
            external_id=row.external_id,
            display_name=row.display_name,
            members=listed[row.id] or None,
            meta=meta("Group", f"{base_url}/Groups/{row.id}", row.created_at, row.updated_at, row.version),
        )
        for row in rows
    ]


def to_resource(session: Session, row: ScimGroupRow, base_url: str) -> Group:
    return to_resources(session, [row], base_url)[0]


def _wanted_members(session: Session, tenant_id: str, resource: Group) -> dict[str, str | None]:
    """The members `resource` names (user id -> display), each a user of this directory."""
    wanted: dict[str, str | None] = {}
    for member in resource.members or []:
        if member.type is not None and member.type.lower() != "user":
            raise InvalidValueException(detail="a group's members are users: nested groups are not supported")
        if not member.value:
            raise InvalidValueException(detail="a member names a user by its id (value)")
        wanted[member.value] = bounded(member.display, "members.display", NAME_LENGTH)
    if wanted:
        known = set(
            session.scalars(
                select(ScimUserRow.id).where(
                    ScimUserRow.tenant_id == tenant_id,
                    ScimUserRow.id.in_(list(wanted)),
                    ScimUserRow.deleted_at.is_(None),
                )
            )
        )
        if unknown := set(wanted) - known:
            raise InvalidValueException(
                detail=f"{len(unknown)} member(s) are not users of this directory (create them first)"
            )
    return wanted


def _record_member(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    row: ScimGroupRow,
    action: str,
    scim_user_id: str,
    user_id: str | None,
) -> None:
    audit.append(
        session,
        AuditEvent(
            tenant=row.tenant_id,
            actor=actor,
            action=action,
            target=f"scim-group:{row.id}",
            details={
                "group": row.display_name,
                "member": f"scim-user:{scim_user_id}",
                "user": f"user:{user_id}" if user_id else None,
            },
        ),
    )


def _sync_members(
    session: Session, audit: AuditLog, actor: Actor, row: ScimGroupRow, wanted: dict[str, str | None]
) -> set[str]:
    """Make the group's members `wanted` (each change audited); the directory users added or removed."""
    current = {
        m.scim_user_id: m
        for m in session.scalars(select(ScimMembershipRow).where(ScimMembershipRow.group_id == row.id))
    }
    added, removed = set(wanted) - set(current), set(current) - set(wanted)
    linked = select(ScimUserRow.id, ScimUserRow.user_id).where(ScimUserRow.id.in_(list(added | removed)))
    users: dict[str, str | None] = dict(session.execute(linked).all())
    for scim_user_id in sorted(removed):
        session.delete(current[scim_user_id])
        _record_member(session, audit, actor, row, "scim.group.member.removed", scim_user_id, users.get(scim_user_id))
    for scim_user_id in sorted(added):
        session.add(
            ScimMembershipRow(
                group_id=row.id, scim_user_id=scim_user_id, tenant_id=row.tenant_id, display=wanted[scim_user_id]
            )
        )
        _record_member(session, audit, actor, row, "scim.group.member.added", scim_user_id, users.get(scim_user_id))
    for scim_user_id in set(wanted) & set(current):
        current[scim_user_id].display = wanted[scim_user_id]
    return added | removed


def _touch_users(session: Session, scim_user_ids: set[str]) -> None:
    """Their representation changed (its `groups`): a new version each."""
    if scim_user_ids:
        session.execute(
            update(ScimUserRow)
            .where(ScimUserRow.id.in_(list(scim_user_ids)))
            .values(version=ScimUserRow.version + 1, updated_at=utc_now())
        )


def _members_of(session: Session, group_id: str) -> set[str]:
    return set(session.scalars(select(ScimMembershipRow.scim_user_id).where(ScimMembershipRow.group_id == group_id)))


def _save(session: Session, audit: AuditLog, actor: Actor, row: ScimGroupRow, resource: Group) -> GroupWrite:
    """Store `resource` as `row` (its members included) and recompute the roles it touches."""
    assert resource.display_name is not None  # required by the schema
    name = bounded(resource.display_name, "displayName", NAME_LENGTH)
    if not (name or "").strip():
        raise InvalidValueException(detail="displayName must not be empty")
    assert name is not None
    key = comparison_key(name)
    taken = session.scalars(
        select(ScimGroupRow.id).where(
            ScimGroupRow.tenant_id == row.tenant_id, ScimGroupRow.display_name_key == key, ScimGroupRow.id != row.id
        )
    ).first()
    if taken is not None:
        raise UniquenessException(attribute="displayName", detail="another group of the directory has this displayName")
    wanted = _wanted_members(session, row.tenant_id, resource)
    renamed = row.display_name_key is not None and row.display_name_key != key
    row.display_name, row.display_name_key = name, key
    row.external_id = bounded(resource.external_id, "externalId", NAME_LENGTH)
    row.updated_at = utc_now()
    session.add(row)
    session.flush()
    touched = _sync_members(session, audit, actor, row, wanted)
    affected = _members_of(session, row.id) | touched if renamed else touched
    _touch_users(session, affected)
    session.flush()
    return GroupWrite(row, recompute_roles(session, audit, actor, row.tenant_id, affected))


def _record(session: Session, audit: AuditLog, actor: Actor, action: str, row: ScimGroupRow, **details: Any) -> None:
    audit.append(
        session,
        AuditEvent(
            tenant=row.tenant_id,
            actor=actor,
            action=action,
            target=f"scim-group:{row.id}",
            details={"displayName": row.display_name, "externalId": row.external_id, **details},
        ),
    )


def create_directory_group(session: Session, audit: AuditLog, actor: Actor, tenant_id: str, payload: Any) -> GroupWrite:
    """POST /Groups (RFC 7644 §3.3)."""
    resource = validated(Group, payload, Context.RESOURCE_CREATION_REQUEST)
    now = utc_now()
    row = ScimGroupRow(id=new_id(), tenant_id=tenant_id, version=1, created_at=now, updated_at=now)
    write = _save(session, audit, actor, row, resource)
    _record(session, audit, actor, "scim.group.created", row, members=len(_members_of(session, row.id)))
    return write


def _update(
    session: Session, audit: AuditLog, actor: Actor, row: ScimGroupRow, before: Group, after: Group, changed: bool
) -> GroupWrite:
    if not changed:
        return GroupWrite(row, [])
    row.version += 1
    previous = row.display_name
    write = _save(session, audit, actor, row, after)
    details: dict[str, Any] = {}
    if previous != row.display_name:
        details["renamed_from"] = previous
    if (before.external_id or None) != (after.external_id or None):
        details["externalId_changed"] = True
    _record(session, audit, actor, "scim.group.updated", row, **details)
    return write


def _modify(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    group_id: str,
    change: Callable[[Group], tuple[Group, bool]],
    *,
    base_url: str,
    if_match: str | None,
) -> GroupWrite:
    """A change to the stored group (its version checked against `if_match`): `change` gives the new state of
    the current one, and whether it differs."""
    row = find_group(session, tenant_id, group_id, for_update=True)
    check_if_match(row.version, if_match)
    current = to_resource(session, row, base_url)
    after, changed = change(current)
    return _update(session, audit, actor, row, current, after, changed)


def replace_directory_group(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    group_id: str,
    payload: Any,
    *,
    base_url: str,
    if_match: str | None = None,
) -> GroupWrite:
    """PUT /Groups/{id} (RFC 7644 §3.5.1): the displayName, externalId and members are what the request says."""
    replacement = validated(Group, payload, Context.RESOURCE_REPLACEMENT_REQUEST)

    def replace(current: Group) -> tuple[Group, bool]:
        return replacement, replacement.replace(current)

    return _modify(session, audit, actor, tenant_id, group_id, replace, base_url=base_url, if_match=if_match)


def patch_directory_group(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    group_id: str,
    payload: Any,
    *,
    base_url: str,
    if_match: str | None = None,
) -> GroupWrite:
    """PATCH /Groups/{id} (RFC 7644 §3.5.2): Okta's and Entra's membership and rename shapes, applied by
    scim2-models as a whole or not at all."""
    patch = validated(PatchOp[Group], without_null_selectors(payload), Context.RESOURCE_PATCH_REQUEST)

    def apply(current: Group) -> tuple[Group, bool]:
        patched = current.model_copy(deep=True)
        return patched, patch.patch(patched, scim_policy=POLICY)

    return _modify(session, audit, actor, tenant_id, group_id, apply, base_url=base_url, if_match=if_match)


def delete_directory_group(
    session: Session, audit: AuditLog, actor: Actor, tenant_id: str, group_id: str, *, if_match: str | None = None
) -> GroupWrite:
    """DELETE /Groups/{id} (RFC 7644 §3.6): its members leave it (each audited) and lose the role it gave."""
    row = find_group(session, tenant_id, group_id, for_update=True)
    check_if_match(row.version, if_match)
    members = _sync_members(session, audit, actor, row, {})
    _touch_users(session, members)
    _record(session, audit, actor, "scim.group.deleted", row, members=len(members))
    session.flush()
    session.delete(row)
    session.flush()
    return GroupWrite(None, recompute_roles(session, audit, actor, tenant_id, members))
