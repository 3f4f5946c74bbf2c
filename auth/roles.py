"""Roles and what each may do. API keys carry a role; signed-in users get one from the tenant's SSO policy (or
their directory's groups). A service role belongs to one kind of credential only: no user or API key holds it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # read objects
    MEMBER = "member"  # read and write objects
    AUDITOR = "auditor"  # read and export the audit log (the customer's auditors)
    SECURITY_ADMIN = "security-admin"  # customer IT security: storage status / revoke / restore, audit; no data
    ADMIN = "admin"  # everything in the tenant: users, keys, SSO, storage grants, audit


class Permission(StrEnum):
    STORAGE_READ = "storage.read"  # signed URLs to read objects
    STORAGE_WRITE = "storage.write"  # signed URLs to write objects
    STORAGE_REVOKE = "storage.revoke"  # storage status, revoke and restore grants (no object access)
    STORAGE_ADMIN = "storage.admin"  # connect and remove grants
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    USERS_ADMIN = "users.admin"  # users, roles, sessions, offboarding
    SSO_ADMIN = "sso.admin"  # the tenant's identity providers and sign-in policy
    APIKEYS_ADMIN = "apikeys.admin"
    SCIM_PROVISION = "scim.provision"  # the directory's provisioning through /scim/v2 (SCIM tokens only)


class ServiceRole(StrEnum):
    """Roles held only by a dedicated kind of credential, never by a user or an API key."""

    SCIM = "scim"  # a SCIM token: the tenant's directory provisions through /scim/v2 and can do nothing else


ROLE_PERMISSIONS: dict[Role | ServiceRole, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.STORAGE_READ}),
    Role.MEMBER: frozenset({Permission.STORAGE_READ, Permission.STORAGE_WRITE}),
    Role.AUDITOR: frozenset({Permission.AUDIT_READ, Permission.AUDIT_EXPORT}),
    Role.SECURITY_ADMIN: frozenset({Permission.STORAGE_REVOKE, Permission.AUDIT_READ, Permission.AUDIT_EXPORT}),
    Role.ADMIN: frozenset(Permission) - {Permission.SCIM_PROVISION},  # the directory's, not a person's
    ServiceRole.SCIM: frozenset({Permission.SCIM_PROVISION}),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}; choose one of: {', '.join(r.value for r in Role)}") from None
