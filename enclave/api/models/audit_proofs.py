"""Audit proofs, the key history and the bucket sync as the API shows and takes them. Proofs and the key history
are the library's own JSON documents (what `enclave audit prove` / `key-history` print and `enclave audit verify`
reads), so they pass through unchanged."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audit.sync import DEFAULT_PREFIX, SyncOutcome, SyncStatus
from enclave.api.models.storage import GRANT_REF_PATTERN

SYNC_PREFIX_PATTERN = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$"  # '..' segments are refused by the use case (400)


class InclusionProofOut(BaseModel):
    """An RFC 9162 inclusion proof: the record, the signed tree head and the audit path."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description='"inclusion-proof"')
    version: int
    tenant: str
    seq: int
    record: dict[str, Any] = Field(description='{"body": the record as stored, "hash": its SHA-256}')
    tree_head: dict[str, Any] = Field(description="the signed tree head the path leads to")
    path: list[str] = Field(description="the audit path, hex, leaf to root")


class ConsistencyProofOut(BaseModel):
    """An RFC 9162 consistency proof from the tree of `old_size` records to the current signed tree head."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description='"consistency-proof"')
    version: int
    tenant: str
    old_size: int
    old_root: str = Field(description="the root at old_size as the log holds it (check it against your own copy)")
    old_tree_head: dict[str, Any] | None = Field(description="the signed head kept at old_size, if any")
    tree_head: dict[str, Any]
    path: list[str]


class KeyHistoryOut(BaseModel):
    """The audit signing keys, each with its validity and vouched for by the one before."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description='"audit-key-history"')
    version: int
    entries: list[dict[str, Any]]


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant: str = Field(pattern=GRANT_REF_PATTERN, description="the storage grant's name or id")
    prefix: str = Field(
        DEFAULT_PREFIX,
        max_length=200,
        pattern=SYNC_PREFIX_PATTERN,
        description="under the grant's prefix, ending in '/'",
    )


class SyncStatusOut(BaseModel):
    tenant: str
    grant: str
    prefix: str
    state: str = Field(description="ok | behind | failing | never-synced")
    synced_size: int
    log_size: int
    synced_at: str | None
    failures: int = Field(description="consecutive failed attempts")
    failure: str | None = Field(description="why the last attempt failed")
    failed_at: str | None
    next_attempt_at: str | None

    @classmethod
    def of(cls, status: SyncStatus) -> SyncStatusOut:
        return cls.model_validate(status.to_json())


class SyncRunOut(BaseModel):
    synced: bool = Field(description="a new signed head was written")
    size: int = Field(description="records the bucket's newest synced head covers")
    error: str | None = Field(description="why the sync failed (recorded on the target and audited)")

    @classmethod
    def of(cls, outcome: SyncOutcome) -> SyncRunOut:
        return cls(synced=outcome.synced, size=outcome.size, error=outcome.error)
