"""Audit events as the API pages them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    seq: int
    hash: str
    record: dict[str, Any] = Field(description="the hashed record body: id, time, actor, action, outcome, ...")


class AuditEventPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page; null at the end")
