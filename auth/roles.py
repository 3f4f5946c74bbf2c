"""Roles and what each may do. The SSO issue assigns roles to users; API keys carry one too."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # read objects
    MEMBER = "member"  # read and write objects
    AUDITOR = "auditor"  # read and export the audit log (the customer's security team, their auditors)
    ADMIN = "admin"  # everything in the tenant: users, keys, storage grants, audit


class Permission(StrEnum):
    STORAGE_READ = "storage.read"
    STORAGE_WRITE = "storage.write"
    STORAGE_ADMIN = "storage.admin"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    USERS_ADMIN = "users.admin"
    APIKEYS_ADMIN = "apikeys.admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.STORAGE_READ}),
    Role.MEMBER: frozenset({Permission.STORAGE_READ, Permission.STORAGE_WRITE}),
    Role.AUDITOR: frozenset({Permission.AUDIT_READ, Permission.AUDIT_EXPORT}),
    Role.ADMIN: frozenset(Permission),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}; choose one of: {', '.join(r.value for r in Role)}") from None
