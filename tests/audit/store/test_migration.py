"""Migration 0004_audit_proofs on a log written before it: the tree is rebuilt from the records, the old
checkpoints (which sign no root) go, and the log must be sealed once before it is extended."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import insert, text

from audit.events import Actor, ActorKind, AuditEvent, empty_head, head_after, link
from audit.merkle import Frontier, leaf_hash
from audit.signing import generate_private_key_pem, load_private_key
from audit.store.bulk_insert import record_row
from audit.store.log import AuditLog, AuditTamperedError
from audit.store.tables import audit_records
from audit.store.tree import TILE_LEVEL
from audit.verify import verify_export
from enclave.db import _alembic_config, create_db_engine, session_factory, transaction, upgrade
from tests.audit.store.exporting import export_bytes

KEY = load_private_key(generate_private_key_pem())


def legacy_log(engine, count: int, first: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    """Records as the previous release wrote them, a head row without a tree and a v1-style checkpoint row."""
    head, hashes = empty_head("acme"), []
    rows = []
    for n in range(count):
        record = link(
            head, AuditEvent(tenant="acme", actor=Actor(ActorKind.SYSTEM, "x"), action="audit.demo", details={"n": n})
        )
        head = head_after(record)
        hashes.append(record.hash)
        if record.seq >= first:
            rows.append(record_row(record))
    with engine.begin() as connection:
        connection.execute(insert(audit_records), rows)
        connection.execute(
            text(
                "INSERT INTO audit_heads (tenant_id, seq, hash, checkpoint_seq, checkpoint_at) "
                "VALUES ('acme', :seq, :hash, :seq, '2026-01-01 00:00:00')"
            ),
            {"seq": head.seq, "hash": head.hash},
        )
        connection.execute(
            text(
                "INSERT INTO audit_checkpoints (tenant_id, seq, kind, head_hash, time, key_id, signature, "
                "pruned_count) VALUES ('acme', :seq, 'checkpoint', :hash, '2026-01-01 00:00:00', "
                "'abcdefabcdefabcd', 'sig', 0)"
            ),
            {"seq": head.seq, "hash": head.hash},
        )
    return hashes


def at_0001(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(database_url)
    command.upgrade(_alembic_config(engine), "0001")
    return engine


def test_an_existing_log_gets_its_tree_and_is_sealed_once(database_url: str) -> None:
    engine = at_0001(database_url)
    hashes = legacy_log(engine, 700)
    upgrade(engine)
    sessions = session_factory(engine)
    frontier = Frontier()
    kept = frontier.extend((leaf_hash(bytes.fromhex(h)) for h in hashes), keep_level=TILE_LEVEL)
    with sessions() as session:
        tree = session.execute(text("SELECT tree FROM audit_heads")).scalar_one()
        nodes = session.execute(text("SELECT COUNT(*) FROM audit_tree_nodes")).scalar_one()
        checkpoints = session.execute(text("SELECT COUNT(*) FROM audit_checkpoints")).scalar_one()
    assert bytes(tree) == frontier.to_bytes() and nodes == len(kept) and checkpoints == 0
    log = AuditLog(KEY)
    event = AuditEvent(tenant="acme", actor=Actor(ActorKind.SYSTEM, "x"), action="audit.demo")
    with pytest.raises(AuditTamperedError, match="seal it once"), transaction(sessions) as session:
        log.append(session, event)
    with transaction(sessions) as session:
        assert log.seal(session, "acme").seq == 700
    with transaction(sessions) as session:
        log.append(session, event)
    assert verify_export(export_bytes(sessions, KEY, "acme").splitlines(keepends=True), KEY.public_key()).ok
    engine.dispose()


def test_a_log_pruned_before_trees_existed_stops_the_upgrade_with_a_clear_message(database_url: str) -> None:
    engine = at_0001(database_url)
    legacy_log(engine, 20, first=6)
    with pytest.raises(RuntimeError, match=r"lacks record 1 .* pruned before Merkle trees existed"):
        upgrade(engine)
    engine.dispose()
