"""Key history: a rotated key is vouched for by the previous one, and each key is accepted only for its range;
in exports, in the bucket and in the store."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, ActorKind, AuditEvent
from audit.export.jsonl import ExportHeader, write_jsonl
from audit.keys import (
    HISTORY_DOMAIN,
    KeyEntry,
    KeyHistoryError,
    TrustedKeys,
    UntrustedKeyError,
    first_entry,
    history_document,
    parse_history,
    rotation_entry,
)
from audit.signing import key_id, sign_statement
from audit.store.key_history import ensure_key_history, key_history_document, previous_keys, rotate_key
from audit.store.log import AuditLog
from audit.verify import ProblemKind, verify_export
from enclave.db import transaction
from tests.audit.store.exporting import export_bytes

OLD = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
NEW = Ed25519PrivateKey.from_private_bytes(b"\x22" * 32)
NEWER = Ed25519PrivateKey.from_private_bytes(b"\x33" * 32)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROTATION = T0 + timedelta(days=30)
OPERATOR = Actor(ActorKind.OPERATOR, "cli:root")


def history() -> list:  # type: ignore[type-arg]
    first = first_entry(OLD)
    second = rotation_entry(first, OLD, NEW, ROTATION)
    third = rotation_entry(second, NEW, NEWER, ROTATION + timedelta(days=30))
    return [first, second, third]


def test_each_key_is_accepted_only_for_its_range() -> None:
    keys = TrustedKeys([OLD.public_key()], history())
    old, new = key_id(OLD.public_key()), key_id(NEW.public_key())
    assert keys.key_for(old, ROTATION - timedelta(microseconds=1), "a head") is not None
    with pytest.raises(UntrustedKeyError, match="outside the validity of key"):
        keys.key_for(old, ROTATION, "a head")  # the old key after its successor took over
    with pytest.raises(UntrustedKeyError, match="outside the validity"):
        keys.key_for(new, ROTATION - timedelta(seconds=1), "a head")  # the new key before it was valid
    assert keys.key_for(new, ROTATION + timedelta(days=1), "a head") is not None
    # Trusting the newest key alone also works: each entry is signed by the key it names, naming its predecessor.
    assert TrustedKeys([NEWER.public_key()], history()).key_for(old, T0, "a head") is not None


def test_a_forged_or_broken_history_is_refused() -> None:
    entries = history()
    intruder = Ed25519PrivateKey.generate()
    payload = KeyEntry(1, intruder.public_key(), ROTATION, entries[0].key_id, None, "").signed_payload()
    signature = sign_statement(intruder, HISTORY_DOMAIN, payload)  # the intruder vouches for itself
    forged = KeyEntry(1, intruder.public_key(), ROTATION, entries[0].key_id, signature, signature)
    with pytest.raises(KeyHistoryError, match="previous key's signature does not verify"):
        TrustedKeys([OLD.public_key()], [entries[0], forged])
    with pytest.raises(KeyHistoryError, match="the key history"):
        TrustedKeys([intruder.public_key()], entries)  # a trusted key must be in it
    same_time = KeyEntry(2, NEWER.public_key(), ROTATION, entries[1].key_id, None, "").signed_payload()
    earlier = KeyEntry(
        2,
        NEWER.public_key(),
        ROTATION,  # not after entry 1's valid_from
        entries[1].key_id,
        sign_statement(NEW, HISTORY_DOMAIN, same_time),
        sign_statement(NEWER, HISTORY_DOMAIN, same_time),
    )
    with pytest.raises(KeyHistoryError, match="no later than"):
        TrustedKeys([OLD.public_key()], [entries[0], entries[1], earlier])
    with pytest.raises(KeyHistoryError, match="entry 1 says it is at position 2"):
        TrustedKeys([OLD.public_key()], [entries[0], entries[2]])  # an entry left out
    moved = replace(entries[1], valid_from=ROTATION - timedelta(days=1))  # valid_from edited after signing
    with pytest.raises(KeyHistoryError, match="own signature does not verify"):
        TrustedKeys([OLD.public_key()], [entries[0], moved])
    document = history_document(entries)
    assert [entry.key_id for entry in parse_history(orjson.loads(orjson.dumps(document)))] == [
        e.key_id for e in entries
    ]
    with pytest.raises(KeyHistoryError, match="not a key history"):
        parse_history({"type": "something-else"})


def export_signed(key: Ed25519PrivateKey, at: datetime) -> list[bytes]:
    """An empty export signed by `key` at `at`: the proof is dated by the header's exported_at."""
    out = io.BytesIO()
    header = ExportHeader(tenant="acme", exported_at=at, exported_by="a", key_id=key_id(key.public_key()))
    write_jsonl(out, header, [], key)
    return out.getvalue().splitlines(keepends=True)


def test_verify_takes_a_key_history() -> None:
    keys = TrustedKeys([OLD.public_key()], history())
    assert verify_export(export_signed(NEW, ROTATION + timedelta(days=1)), keys).ok
    report = verify_export(export_signed(OLD, ROTATION + timedelta(days=1)), keys)
    assert [p.kind for p in report.problems] == [ProblemKind.UNKNOWN_KEY]
    assert "outside the validity" in report.problems[0].message


# -- in the store ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_rotation_in_the_store_and_an_export_across_it(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    clock = Clock()
    old_log = AuditLog(OLD, clock=clock)
    with transaction(sessions) as session:
        ensure_key_history(session, OLD)
    for _ in range(3):
        with transaction(sessions) as session:
            old_log.append(session, AuditEvent(tenant="acme", actor=OPERATOR, action="audit.demo"))
    with transaction(sessions) as session, pytest.raises(KeyHistoryError, match="must be in the future"):
        rotate_key(session, old_log, OPERATOR, OLD, NEW, T0, ["acme"])
    with transaction(sessions) as session:
        rotate_key(session, old_log, OPERATOR, OLD, NEW, ROTATION, ["acme"])
    with transaction(sessions) as session, pytest.raises(KeyHistoryError, match="is an older key"):
        ensure_key_history(session, OLD)  # the old key may no longer be configured
    clock.now = ROTATION + timedelta(hours=1)
    with transaction(sessions) as session:
        entries = ensure_key_history(session, NEW)
        document = key_history_document(session)
    new_log = AuditLog(NEW, clock=clock, previous_keys=previous_keys(entries))
    with transaction(sessions) as session:  # the new gateway extends the head the old key signed
        new_log.append(session, AuditEvent(tenant="acme", actor=OPERATOR, action="audit.demo"))
    data = export_bytes(sessions, NEW, "acme")
    keys = TrustedKeys([OLD.public_key()], parse_history(document))
    report = verify_export(data.splitlines(keepends=True), keys)
    assert report.ok, report.problems
    assert set(report.key_ids) == {key_id(OLD.public_key()), key_id(NEW.public_key())}  # heads by both, in range
    # Without the history, only the keys given count.
    assert not verify_export(data.splitlines(keepends=True), [NEW.public_key()]).ok
