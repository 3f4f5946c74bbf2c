"""Test helper: export a tenant's chain straight from the store (as the gateway's export does) to bytes."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from audit.export.jsonl import ExportHeader, write_jsonl
from audit.signing import key_id
from audit.store.reader import export_items, export_range


def export_bytes(
    sessions: sessionmaker[Session],
    key: Ed25519PrivateKey,
    tenant: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> bytes:
    span = export_range(sessions, tenant, since, until)
    assert span is not None, "nothing to export"
    header = ExportHeader(
        tenant=tenant,
        since=since,
        until=until,
        exported_at=datetime.now(UTC),
        exported_by="test",
        key_id=key_id(key.public_key()),
    )
    out = io.BytesIO()
    write_jsonl(out, header, export_items(sessions, span), key)
    return out.getvalue()
