"""What the directory's users and groups share: reading a payload through scim2-models, versions and ETags
(RFC 7644 §3.14), page bounds, resource metadata, and roles recomputed from group membership.

Roles: the tenant's sign-in policy maps values to roles (`role_map`, the same mapping its SSO claims use); for a
user the directory provisions, the values are the displayNames of the directory groups they are in. When a
membership changes (a member added or removed, a group renamed or deleted), every user it touches is recomputed
at once: the most privileged mapped group wins, none is the tenant's default role (auth.users.mapped_role)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from scim2_models import (
    BaseModel,
    Context,
    Error,
    InvalidValueException,
    Meta,
    PreconditionFailedException,
    SCIMException,
)
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from audit.events import Actor
from audit.store.log import AuditLog
from auth.models import Tenant, User
from auth.roles import Role
from auth.scim.models import ScimGroupRow, ScimMembershipRow, ScimUserRow
from auth.scim.schema import POLICY
from auth.sso.errors import SsoConfigError
from auth.sso.registry import get_policy
from auth.users import mapped_role, set_role

logger = logging.getLogger("enclave.scim")
Model = TypeVar("Model", bound=BaseModel)
Row = TypeVar("Row")
ROLE_SOURCE = "directory group membership"


def new_id() -> str:
    return secrets.token_hex(16)


def validated(model: type[Model], payload: Any, context: Context) -> Model:
    """`payload` read as `model` in a request's context, under the tolerant policy (auth.scim.schema.POLICY);
    the SCIM error (invalidSyntax, invalidValue, mutability, ...) of the first problem otherwise."""
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
    except ValidationError as exc:
        raise SCIMException.from_error(Error.from_validation_errors(exc)[0]) from None


def without_null_selectors(payload: Any) -> Any:
    """A PATCH payload whose `remove` values name no null sub-attribute. Entra removes a member as
    `{"$ref": null, "value": "<id>"}` (its tutorial's "Update Group [Remove Members]"): the null means it does
    not know the reference, not that the member has none, so the value alone selects the member."""
    if not isinstance(payload, dict) or not isinstance(payload.get("Operations"), list):
        return payload

    def selectors(operation: Any) -> Any:
        if not (
            isinstance(operation, dict)
            and str(operation.get("op", "")).lower() == "remove"
            and isinstance(operation.get("value"), list)
        ):
            return operation
        values = [
            {k: v for k, v in entry.items() if v is not None} if isinstance(entry, dict) else entry
            for entry in operation["value"]
        ]
        return {**operation, "value": values}

    return {**payload, "Operations": [selectors(operation) for operation in payload["Operations"]]}


def bounded(value: str | None, what: str, limit: int) -> str | None:
    """`value`, refused when it is longer than `limit` or holds control characters."""
    if value is None:
        return None
    if len(value) > limit:
        raise InvalidValueException(detail=f"{what} is longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidValueException(detail=f"{what} holds control characters")
    return value


def etag(version: int) -> str:
    """The weak entity tag of a version (the version counts changes; it is no hash of the bytes sent)."""
    return f'W/"{version}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def _matches(tag: str, header: str) -> bool:
    tags = {_opaque(each) for each in header.split(",") if each.strip()}
    return "*" in tags or _opaque(tag) in tags


def check_if_match(version: int, if_match: str | None) -> None:
    """RFC 7644 §3.14: a PUT, PATCH or DELETE with `If-Match` applies only to the version it names (or any with
    `*`); the tags are compared weakly, as SCIM's own examples send weak tags. 412 otherwise."""
    if if_match is not None and not _matches(etag(version), if_match):
        raise PreconditionFailedException(detail="the resource has changed since that version: read it again")


def not_modified(tag: str, if_none_match: str | None) -> bool:
    """Whether a GET with `If-None-Match` already has the version tagged `tag` (304)."""
    return if_none_match is not None and _matches(tag, if_none_match)


def meta(resource_type: str, location: str, created: datetime, updated: datetime, version: int) -> Meta:
    return Meta(
        resource_type=resource_type, created=created, last_modified=updated, location=location, version=etag(version)
    )


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return: RFC 7644 §3.4.2.4 `startIndex` (1-based) and `count`."""

    start_index: int
    count: int

    @property
    def offset(self) -> int:
        return self.start_index - 1


@dataclass(frozen=True)
class Listed(Generic[Row]):
    """One page of a list, and how many there are in all."""

    total: int
    rows: list[Row]


def recompute_roles(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    tenant_id: str,
    scim_user_ids: Iterable[str],
    *,
    governed_only: bool = False,
) -> list[str]:
    """After a membership change: each touched Enclave user's role is what their directory groups map to now
    (audited as a role change with the reason). With `governed_only` (a user the directory just took on), only
    when the tenant's directory pushes groups at all: otherwise the sign-in claims decide. The ids of the users
    whose role changed; their live sessions are the caller's to refresh. Nothing changes when the tenant maps no
    roles, or its policy must be set again."""
    ids = sorted(set(scim_user_ids))
    if not ids:
        return []
    if governed_only and not session.scalar(select(exists().where(ScimGroupRow.tenant_id == tenant_id))):
        return []
    try:
        policy = get_policy(session, tenant_id)
    except SsoConfigError:
        logger.warning("directory roles not recomputed: the tenant's sign-in policy must be set again")
        return []
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    default = Role(tenant.default_role)
    users = session.execute(
        select(ScimUserRow.id, User)
        .join(User, User.id == ScimUserRow.user_id)
        .where(ScimUserRow.tenant_id == tenant_id, ScimUserRow.id.in_(ids))
    ).all()
    names: dict[str, list[str]] = {scim_id: [] for scim_id, _ in users}
    memberships = (
        select(ScimMembershipRow.scim_user_id, ScimGroupRow.display_name)
        .join(ScimGroupRow, ScimGroupRow.id == ScimMembershipRow.group_id)
        .where(ScimMembershipRow.scim_user_id.in_(list(names)))
    )
    for scim_id, display_name in session.execute(memberships):
        names[scim_id].append(display_name)
    changed: list[str] = []
    for scim_id, user in users:
        computed = mapped_role(policy, names[scim_id], default, ROLE_SOURCE)
        if computed is not None and set_role(session, audit, actor, user, computed[0], why=computed[1]):
            changed.append(user.id)
    return changed
