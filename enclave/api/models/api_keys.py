"""API keys: what a caller sends to create one, and what the API shows (the secret only once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from auth.apikeys import NAME_SCHEMA_PATTERN, IssuedKey
from auth.models import ApiKey
from auth.roles import Role
from enclave.api.models.json_types import JSON_INTEGER


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NAME_SCHEMA_PATTERN)
    role: Role
    ttl_days: Annotated[int, Field(ge=1, le=3650), JSON_INTEGER] | None = Field(
        None,
        description="lifetime in days (default: the gateway's apikey_default_ttl_days, shortened to fit). At most "
        "the gateway's apikey_max_ttl_days (the maximum here) and, when a key creates the key, that key's "
        "remaining lifetime: 400 otherwise.",
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    parent_id: str | None = Field(description="the key that created this one; revoking it revokes this one")

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls.model_validate(key, from_attributes=True)


class IssuedApiKeyOut(ApiKeyOut):
    secret: str = Field(description="the key itself: shown once, store it now")

    @classmethod
    def of_issued(cls, issued: IssuedKey) -> IssuedApiKeyOut:
        return cls(**ApiKeyOut.of(issued.key).model_dump(), secret=issued.secret)
