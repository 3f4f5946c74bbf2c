"""Tenants of a shared gateway."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from auth.roles import Role
from auth.tenants import HOSTNAME_SCHEMA_PATTERN
from tenancy.names import TENANT_NAME_MAX, TENANT_NAME_MIN, TENANT_NAME_SCHEMA_PATTERN


class TenantIn(BaseModel):
    id: str = Field(pattern=TENANT_NAME_SCHEMA_PATTERN, min_length=TENANT_NAME_MIN, max_length=TENANT_NAME_MAX)
    display_name: str | None = Field(None, min_length=1, max_length=200)
    hostname: str | None = Field(None, max_length=253, pattern=HOSTNAME_SCHEMA_PATTERN)
    default_role: Role = Role.VIEWER


class TenantOut(BaseModel):
    id: str
    display_name: str
    hostname: str | None
    default_role: str
    created_at: datetime
