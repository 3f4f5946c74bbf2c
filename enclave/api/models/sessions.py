"""Browser sessions as the API shows them (never their token)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from auth.sessions_models import UserSessionRow


class SessionOut(BaseModel):
    public_id: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool = False

    @classmethod
    def of(cls, row: UserSessionRow, *, current: bool) -> SessionOut:
        return cls(
            public_id=row.public_id,
            user_id=row.user_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=current,
        )


class RevokedCount(BaseModel):
    revoked: int
