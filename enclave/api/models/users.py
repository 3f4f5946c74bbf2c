"""Users of a tenant over the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from auth.models import User
from auth.roles import Role
from auth.sso.config import PROVIDER_NAME_REGEX
from auth.users import EMAIL_REGEX


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str | None
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(user, from_attributes=True)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, pattern=f"^{EMAIL_REGEX}$")
    role: Role = Role.VIEWER
    display_name: str | None = Field(None, max_length=200)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class OffboardingOut(BaseModel):
    user_id: str
    email: str
    sessions_ended: int
    api_keys_revoked: int
    idp_accounts_disabled: int | None


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(pattern=rf"^{PROVIDER_NAME_REGEX}$", description="the provider's name in the tenant")
    subject: str = Field(
        min_length=1, max_length=255, pattern=r"^[!-~]+$", description="the account's `sub` at the provider"
    )


class IdentityOut(BaseModel):
    provider: str
    kind: str
    subject: str
    linked_at: datetime
    last_login_at: datetime | None
