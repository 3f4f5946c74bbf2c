"""Tables of the tenant's directory as SCIM provisions it: its tokens, its users (each one Enclave user once it
has an email address), their emails, its groups and their members. Every row carries its tenant.

Lookup keys (`*_key`) hold the values a filter compares case-insensitively, lower-cased (Unicode NFC); they and
the identifiers compared exactly (`external_id`) use a binary collation on MySQL, whose default collations would
call `Ä` and `a` the same."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from audit.store.types import UtcDateTime
from auth.models import Base

NAME_LENGTH = 256  # userName, displayName, externalId: longer values are refused (Entra's UPN is at most 113)
EMAIL_LENGTH = 320


def exact_string(length: int) -> TypeEngine[str]:
    """A string compared byte for byte on every database."""
    binary = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return String(length).with_variant(binary, "mysql")


class ScimTokenRow(Base):
    """A SCIM token `scim_<id>_<secret>`: the directory's credential, stored as the SHA-256 of its secret."""

    __tablename__ = "scim_tokens"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # None: until revoked
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replaced_by: Mapped[str | None] = mapped_column(String(12))  # the token a rotation issued in its place


class ScimUserRow(Base):
    """A user of the directory. `attributes` is the SCIM representation the directory set (JSON, the attributes
    Enclave serves); `user_id` the Enclave user it is, once it has an email. A deleted user stays as a tombstone
    (`deleted_at`, no keys) so that the directory re-creating the person finds what it disabled."""

    __tablename__ = "scim_users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_name_key"),
        Index("ix_scim_users_tenant_id_external_id", "tenant_id", "external_id"),
        Index("ix_scim_users_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), unique=True)
    user_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    user_name_key: Mapped[str | None] = mapped_column(exact_string(NAME_LENGTH))  # None once deleted
    external_id: Mapped[str | None] = mapped_column(exact_string(NAME_LENGTH))
    display_name_key: Mapped[str | None] = mapped_column(exact_string(NAME_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean)
    attributes: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the directory's deactivation is what disabled the Enclave user, so its reactivation may enable them again
    disabled_by_directory: Mapped[bool] = mapped_column(Boolean)
    # Enclave access is gone but the identity provider's step of offboarding (Keycloak) has not succeeded yet
    idp_offboarding_pending: Mapped[bool] = mapped_column(Boolean)


class ScimUserEmailRow(Base):
    """One email of a directory user, for `emails.value` / `emails[type eq "work"].value` filters."""

    __tablename__ = "scim_user_emails"
    __table_args__ = (Index("ix_scim_user_emails_tenant_id_value_key", "tenant_id", "value_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    scim_user_id: Mapped[str] = mapped_column(ForeignKey("scim_users.id"), index=True)
    value_key: Mapped[str] = mapped_column(exact_string(EMAIL_LENGTH))
    type_key: Mapped[str | None] = mapped_column(exact_string(64))


class ScimGroupRow(Base):
    """A group of the directory; its displayName is the value the tenant's role mapping reads. Unique per tenant
    (Entra matches groups by it)."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "display_name_key"),
        Index("ix_scim_groups_tenant_id_external_id", "tenant_id", "external_id"),
        Index("ix_scim_groups_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    display_name_key: Mapped[str] = mapped_column(exact_string(NAME_LENGTH))
    external_id: Mapped[str | None] = mapped_column(exact_string(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ScimMembershipRow(Base):
    """A directory user in a directory group (`display` as the directory sent it)."""

    __tablename__ = "scim_memberships"

    group_id: Mapped[str] = mapped_column(ForeignKey("scim_groups.id"), primary_key=True)
    scim_user_id: Mapped[str] = mapped_column(ForeignKey("scim_users.id"), primary_key=True, index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    display: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
