"""The published history of audit signing keys, kept in the database (audit_key_history) and published by
`enclave audit key-history` / `GET /api/v1/audit/key-history` and into every synced bucket (keys/).

Rotation, step by step (docs/audit.md): generate the new key; with the current key still configured, record
the rotation (`rotate_key`: the current key vouches for the new one, which takes over at `valid_from`, a time
far enough ahead to restart every gateway replica); switch ENCLAVE_AUDIT_SIGNING_KEY to the new key and restart
the replicas before `valid_from`. A replica that still signs with the old key after `valid_from` is refused by
verifiers (the key history bounds it), so a stolen old key cannot sign new history either.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from audit.canonical import JsonValue, canonical_bytes
from audit.events import Actor, AuditEvent, format_time
from audit.keys import KeyEntry, KeyHistoryError, first_entry, history_document, rotation_entry
from audit.signing import key_id
from audit.store.log import AuditLog
from audit.store.tables import audit_key_history


def load_key_history(session: Session) -> list[KeyEntry]:
    rows = session.execute(select(audit_key_history.c.entry).order_by(audit_key_history.c.position)).scalars()
    return [KeyEntry.from_json(orjson.loads(bytes(raw))) for raw in rows]


def key_history_document(session: Session) -> dict[str, JsonValue]:
    """The document verifiers take with `--key-history FILE`."""
    return history_document(load_key_history(session))


def _insert(session: Session, entry: KeyEntry) -> None:
    session.execute(
        insert(audit_key_history).values(
            position=entry.position, key_id=entry.key_id, entry=canonical_bytes(entry.to_json())
        )
    )


def ensure_key_history(session: Session, signing_key: Ed25519PrivateKey) -> list[KeyEntry]:
    """Start the history with the configured key if there is none; then the configured key must be its newest
    entry (KeyHistoryError otherwise: the gateway must not sign with a key verifiers would refuse)."""
    entries = load_key_history(session)
    if not entries:
        entry = first_entry(signing_key)
        _insert(session, entry)
        return [entry]
    current = key_id(signing_key.public_key())
    if entries[-1].key_id != current:
        known = [entry.key_id for entry in entries]
        where = f"an older key (entry {known.index(current)})" if current in known else "not in the key history"
        raise KeyHistoryError(
            f"the configured audit signing key {current} is {where}; the newest is {entries[-1].key_id}. Record a "
            "rotation (enclave audit rotate-key) or configure the newest key"
        )
    return entries


def previous_keys(entries: list[KeyEntry]) -> list[Ed25519PublicKey]:
    """The keys before the newest one: AuditLog(previous_keys=...) accepts heads they signed."""
    return [entry.public_key for entry in entries[:-1]]


def rotate_key(
    session: Session,
    log: AuditLog,
    actor: Actor,
    current: Ed25519PrivateKey,
    new_key: Ed25519PrivateKey,
    valid_from: datetime,
    tenants: list[str],
) -> KeyEntry:
    """Publish `new_key` as taking over at `valid_from`, vouched for by `current` (the newest key). Audited as
    `audit.key.rotated` in each tenant's log, in the same transaction."""
    entries = ensure_key_history(session, current)
    if valid_from <= log.clock():
        raise KeyHistoryError("valid_from must be in the future: the gateways switch keys before it")
    entry = rotation_entry(entries[-1], current, new_key, valid_from)
    _insert(session, entry)
    for tenant in tenants:
        log.append(
            session,
            AuditEvent(
                tenant=tenant,
                actor=actor,
                action="audit.key.rotated",
                target=f"audit-key:{entry.key_id}",
                details={
                    "previous_key_id": entries[-1].key_id,
                    "key_id": entry.key_id,
                    "valid_from": format_time(valid_from),
                },
            ),
        )
    return entry
