"""SCIM tokens as the API shows them (the secret only once) and what creating or rotating one takes, and the
directory's provisioning status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from auth.apikeys import NAME_SCHEMA_PATTERN
from auth.scim.models import ScimTokenRow
from auth.scim.tokens import IssuedScimToken, token_state
from enclave.api.models.json_types import JSON_INTEGER
from enclave.services.scim import DirectoryStatus


class ScimTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NAME_SCHEMA_PATTERN, description="e.g. okta, entra")
    ttl_days: Annotated[int, Field(ge=1, le=3650), JSON_INTEGER] | None = Field(
        None, description="lifetime in days; none (the default): until revoked or rotated"
    )


class ScimTokenRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: Annotated[int, Field(ge=0, le=168), JSON_INTEGER] = Field(
        24, description="how long the old token keeps working, so the directory can be switched over; 0: ends now"
    )


class ScimTokenOut(BaseModel):
    id: str
    name: str
    state: str = Field(description="active, expired or revoked")
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="the directory's last request with it (to the minute)")
    replaced_by: str | None = Field(description="the token a rotation issued in its place")

    @classmethod
    def of(cls, token: ScimTokenRow) -> ScimTokenOut:
        return cls(
            id=token.id,
            name=token.name,
            state=token_state(token),
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
            replaced_by=token.replaced_by,
        )


class IssuedScimTokenOut(ScimTokenOut):
    secret: str = Field(description="the token to give the directory: shown once, store it now")
    scim_base_url: str = Field(description="the directory's tenant URL / SCIM connector base URL")

    @classmethod
    def of_issued(cls, issued: IssuedScimToken, scim_base_url: str) -> IssuedScimTokenOut:
        return cls(**ScimTokenOut.of(issued.token).model_dump(), secret=issued.secret, scim_base_url=scim_base_url)


class DirectoryStatusOut(BaseModel):
    users: int = Field(description="users the directory provisions")
    enclave_users: int = Field(description="of them, Enclave users (those with an email address)")
    groups: int
    last_change: datetime | None = Field(description="the directory's last change to a user or group")
    tokens: list[ScimTokenOut]

    @classmethod
    def of(cls, status: DirectoryStatus) -> DirectoryStatusOut:
        return cls(
            users=status.users,
            enclave_users=status.enclave_users,
            groups=status.groups,
            last_change=status.last_change,
            tokens=[ScimTokenOut.of(token) for token in status.tokens],
        )
