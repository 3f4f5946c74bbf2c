"""Whether the directory decides a user's role, and from which of its groups. Kept apart from the rest of the
package so that sign-in (auth.users) can ask without importing what imports it."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from auth.scim.models import ScimGroupRow, ScimMembershipRow, ScimUserRow


def directory_groups(session: Session, tenant_id: str, user_id: str) -> list[str] | None:
    """The displayNames of the directory groups the Enclave user `user_id` is a member of; None when the
    directory does not decide the user's role: it does not provision this user, or the tenant's directory pushes
    no groups at all (then the sign-in claims do, as for everyone else)."""
    directory_user = session.scalars(
        select(ScimUserRow.id).where(
            ScimUserRow.tenant_id == tenant_id, ScimUserRow.user_id == user_id, ScimUserRow.deleted_at.is_(None)
        )
    ).first()
    if directory_user is None:
        return None
    if not session.scalar(select(exists().where(ScimGroupRow.tenant_id == tenant_id))):
        return None
    query = (
        select(ScimGroupRow.display_name)
        .join(ScimMembershipRow, ScimMembershipRow.group_id == ScimGroupRow.id)
        .where(ScimMembershipRow.scim_user_id == directory_user)
    )
    return list(session.scalars(query))
