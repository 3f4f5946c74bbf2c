"""The storage grants table. Every row carries its tenant; shares auth's declarative Base so that Alembic
sees one schema (migration 0002_storage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from audit.store.types import UtcDateTime
from auth.models import Base


class StorageGrantRow(Base):
    __tablename__ = "storage_grants"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    backend: Mapped[str] = mapped_column(String(10))  # s3 | gcs | azure | local
    bucket: Mapped[str] = mapped_column(String(255))  # bucket, container, or local directory name
    prefix: Mapped[str] = mapped_column(String(511))  # normalised: "" or segments ending in "/"
    region: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str | None] = mapped_column(String(500))
    role_arn: Mapped[str | None] = mapped_column(String(300))  # S3: the customer's role
    external_id: Mapped[str | None] = mapped_column(String(256))  # S3: the ExternalId its trust requires
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # backend-specific, validated by GrantSpec
    ttl_default_seconds: Mapped[int] = mapped_column(Integer)
    ttl_max_seconds: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))  # active | revoked | revoked-by-customer
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_changed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    probe_status: Mapped[str | None] = mapped_column(String(10))  # ok | denied | error, from the last probe
    probe_detail: Mapped[str | None] = mapped_column(String(500))
    probed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StorageExternalIdRow(Base):
    """The ExternalId Enclave generated for one tenant's grant name (AWS's confused-deputy guard): the customer's
    role trusts it, and an S3 grant of that tenant and name connects only with it."""

    __tablename__ = "storage_external_ids"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    grant_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
