"""Inclusion and consistency proofs from the store, checked offline; continuity of one export with the next;
and the tail attacks of issue 16 (rewrite the records after the last kept checkpoint and relink the head;
delete the tail and reset the head), on SQLite and on the machine's MariaDB."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import orjson
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.canonical import canonical_bytes
from audit.checkpoints import checkpoint_bytes
from audit.events import Actor, ActorKind, AuditEvent
from audit.merkle import Frontier, leaf_hash
from audit.signing import generate_private_key_pem, load_private_key
from audit.store.log import AuditLog, AuditTamperedError
from audit.store.proving import ProofNotFoundError, prove_consistency, prove_inclusion
from audit.store.reader import checkpoint_from_row
from audit.store.retention import prune
from audit.store.tables import audit_checkpoints, audit_heads, audit_records, audit_tree_nodes
from audit.store.tree import TILE_LEVEL
from audit.treeproofs import ConsistencyProof, InclusionProof
from audit.verify import ProblemKind, verify_export
from audit.verify_proofs import (
    load_proof,
    proof_bytes,
    signed_head_from,
    verify_consistency_proof,
    verify_export_extends,
    verify_inclusion_proof,
)
from enclave.db import transaction
from tests.audit.store.exporting import export_bytes as export_chain

KEY = load_private_key(generate_private_key_pem())
OTHER = load_private_key(generate_private_key_pem())
T0 = datetime(2026, 3, 1, tzinfo=UTC)
P = TypeVar("P", InclusionProof, ConsistencyProof)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def event(n: int) -> AuditEvent:
    return AuditEvent(tenant="acme", actor=Actor(ActorKind.USER, f"u{n % 7}"), action="audit.demo", details={"n": n})


def append(sessions: sessionmaker[Session], log: AuditLog, count: int, *, batch: int = 1, start: int = 0) -> None:
    for first in range(start, start + count, batch):
        with transaction(sessions) as session:
            log.append_many(session, [event(n) for n in range(first, min(first + batch, start + count))])


def export(sessions: sessionmaker[Session], since: datetime | None = None, until: datetime | None = None) -> bytes:
    return export_chain(sessions, KEY, "acme", since, until)


def lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def roundtrip(proof: P) -> P:
    """A proof as the CLI writes and the verifier reads it."""
    read = load_proof(proof_bytes(proof))
    assert isinstance(read, type(proof))
    return read


# -- inclusion ---------------------------------------------------------------------------------------------


def test_inclusion_proofs_verify_offline_and_forgeries_do_not(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(KEY)
    append(sessions, log, 700, batch=100)
    for seq in (1, 255, 256, 257, 512, 699, 700):
        with sessions() as session:
            proof = roundtrip(prove_inclusion(session, "acme", seq))
        assert isinstance(proof, InclusionProof)
        report = verify_inclusion_proof(proof, KEY.public_key())
        assert report.ok, report.problems
        assert f"record {seq} of acme (audit.demo at" in report.checked[0]
        assert "over 700 records" in report.checked[0]
    body = orjson.loads(proof.body)
    body["actor"]["id"] = "mallory"
    altered = replace(proof, body=canonical_bytes(body))
    assert "content does not match its hash" in verify_inclusion_proof(altered, KEY.public_key()).problems[0]
    rehashed = replace(altered, record_hash=hashlib.sha256(altered.body).hexdigest())
    assert "is not in the signed tree" in verify_inclusion_proof(rehashed, KEY.public_key()).problems[0]
    moved = replace(proof, seq=699)
    assert not verify_inclusion_proof(moved, KEY.public_key()).ok
    flipped = replace(proof, path=(("0" if proof.path[0][0] != "0" else "1") + proof.path[0][1:], *proof.path[1:]))
    assert not verify_inclusion_proof(flipped, KEY.public_key()).ok
    assert "signed by key" in verify_inclusion_proof(proof, OTHER.public_key()).problems[0]
    forged_head = replace(proof.tree_head, seq=701)
    assert (
        "signature does not verify"
        in verify_inclusion_proof(replace(proof, tree_head=forged_head), KEY.public_key()).problems[0]
    )


def test_proofs_need_no_record_outside_two_tiles(sessions: sessionmaker[Session]) -> None:
    """Proof generation reads stored subtrees and at most the records of the leaf's tile and of the tree's
    right edge: with every other record deleted, proofs still come out right."""
    log = AuditLog(KEY)
    append(sessions, log, 2000, batch=500)
    tile = 1 << TILE_LEVEL
    with sessions() as session:
        expected = prove_inclusion(session, "acme", 300)
        expected_consistency = prove_consistency(session, "acme", 1000)
    keep = {seq for seq in range(1, 2001) if (seq - 1) // tile in ((300 - 1) // tile, (1000 - 1) // tile, 1999 // tile)}
    with transaction(sessions) as session:
        session.execute(delete(audit_records).where(audit_records.c.seq.not_in(keep)))
    with sessions() as session:
        assert prove_inclusion(session, "acme", 300) == expected
    with sessions() as session:
        assert prove_consistency(session, "acme", 1000) == expected_consistency
    assert verify_consistency_proof(expected_consistency, KEY.public_key()).ok


def test_proof_requests_that_cannot_be_answered(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(KEY)
    append(sessions, log, 3)
    with sessions() as session, pytest.raises(ProofNotFoundError, match=r"has records 1\.\.3; there is no record 4"):
        prove_inclusion(session, "acme", 4)
    with sessions() as session, pytest.raises(ProofNotFoundError, match="it never had 0"):
        prove_consistency(session, "acme", 0)
    with sessions() as session, pytest.raises(Exception, match="no signed tree head"):
        prove_inclusion(session, "globex", 1)


# -- consistency ----------------------------------------------------------------------------------------


def test_consistency_proofs_from_a_head_held_earlier(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(KEY, checkpoint_every=100)
    append(sessions, log, 333, batch=37)
    earlier = signed_head_from(export(sessions), KEY.public_key())  # the auditor keeps last month's export
    assert earlier.seq == 333
    append(sessions, log, 500, batch=50, start=333)
    with sessions() as session:
        proof = roundtrip(prove_consistency(session, "acme", 333))
    assert isinstance(proof, ConsistencyProof)
    report = verify_consistency_proof(proof, KEY.public_key(), previous=earlier)
    assert report.ok, report.problems
    assert "over 833 records" in report.checked[0] and "held by the verifier" in report.checked[0]
    # A proof whose old root is not the auditor's, or whose path was changed, is refused.
    with_wrong_root = replace(earlier, root="00" * 32)
    assert not verify_consistency_proof(proof, KEY.public_key(), previous=with_wrong_root).ok  # bad signature
    bent = replace(proof, path=(proof.path[1], proof.path[0], *proof.path[2:]))
    assert "does not extend" in verify_consistency_proof(bent, KEY.public_key(), previous=earlier).problems[0]
    # Without a held head, the proof's own signed old head (a kept checkpoint) or its stated root is used.
    with sessions() as session:
        kept_size = (
            session.execute(select(audit_checkpoints.c.seq).where(audit_checkpoints.c.seq > 1)).scalars().first()
        )
        assert kept_size is not None and kept_size < 833  # a head kept as a checkpoint (every 100 records)
        kept = roundtrip(prove_consistency(session, "acme", kept_size))
    assert isinstance(kept, ConsistencyProof) and kept.old_head is not None
    assert "signed" in verify_consistency_proof(kept, KEY.public_key()).checked[0]
    with sessions() as session:
        unkept = prove_consistency(session, "acme", 400)  # no head was kept at 400 records
    assert unkept.old_head is None
    assert "stated by the proof itself" in verify_consistency_proof(unkept, KEY.public_key()).checked[0]


# -- continuity across exports ---------------------------------------------------------------------------


def test_this_months_export_extends_last_months(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    log = AuditLog(KEY, checkpoint_every=50, clock=clock)
    append(sessions, log, 120, batch=10)
    last_month = export(sessions)
    clock.now = T0 + timedelta(days=30)
    append(sessions, log, 80, batch=10, start=120)
    full = export(sessions)
    adjacent = export(sessions, since=T0 + timedelta(days=30))  # starts right after last month's head
    for current in (full, adjacent):
        previous, report, continuity = verify_export_extends(lines(last_month), lines(current), KEY.public_key())
        assert previous.ok and report.ok, report.problems
        assert continuity.ok, continuity.problems
        assert "extends" in continuity.checked[0]
    clock.now = T0 + timedelta(days=60)
    append(sessions, log, 30, start=200)
    later = export(sessions, since=T0 + timedelta(days=60))  # a gap: records 121..200 are in neither
    _, report, continuity = verify_export_extends(lines(last_month), lines(later), KEY.public_key())
    assert report.ok and not continuity.ok
    assert "give a consistency proof (enclave audit prove --consistency 120)" in continuity.problems[0]
    with sessions() as session:
        proof = prove_consistency(session, "acme", 120)
    _, _, continuity = verify_export_extends(lines(last_month), lines(later), KEY.public_key(), proof)
    assert continuity.ok, continuity.problems


def test_an_until_export_ends_with_a_continuation(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    log = AuditLog(KEY, checkpoint_every=1000, clock=clock)
    append(sessions, log, 40, batch=8)
    clock.now = T0 + timedelta(hours=1)
    append(sessions, log, 40, batch=8, start=40)
    data = export(sessions, until=T0 + timedelta(minutes=30))
    assert b'"type":"continuation"' in data
    report = verify_export(lines(data), KEY.public_key())
    assert report.ok, report.problems
    # bound to the first signed head after record 40: the one kept when the hour had passed (48)
    assert report.last_seq == 40 and report.tree_head is not None and report.tree_head.seq == 48
    assert "PARTIAL export" in report.summary() and "bound by consistency proof" in report.summary()
    forged = lines(data)
    at = next(i for i, line in enumerate(forged) if b'"type":"continuation"' in line)
    item = orjson.loads(forged[at])
    item["consistency"][0] = "00" * 32
    forged[at] = canonical_bytes(item) + b"\n"
    kinds = [p.kind for p in verify_export(forged, KEY.public_key()).problems]
    assert kinds == [ProblemKind.CHECKPOINT_MISMATCH]


# -- pruning -----------------------------------------------------------------------------------------------


def test_after_pruning_what_remains_is_still_provable(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    log = AuditLog(KEY, clock=clock)
    for day in range(6):
        clock.now = T0 + timedelta(days=day)
        append(sessions, log, 100, batch=25, start=day * 100)
    with sessions() as session:
        early = prove_consistency(session, "acme", 300)  # made before the prune
    with transaction(sessions) as session:
        anchor = prune(session, log, "acme", T0 + timedelta(days=3))
    assert anchor is not None and anchor.seq == 300
    with sessions() as session:
        assert verify_inclusion_proof(prove_inclusion(session, "acme", 301), KEY.public_key()).ok
    with sessions() as session, pytest.raises(ProofNotFoundError, match="record 42 of acme was pruned"):
        prove_inclusion(session, "acme", 42)
    with sessions() as session:  # from the pruned boundary on, consistency is still proven: its subtrees stay
        after = prove_consistency(session, "acme", 300)
        later = prove_consistency(session, "acme", 450)
    assert after.old_root == early.old_root == anchor.root
    assert verify_consistency_proof(after, KEY.public_key()).ok
    assert verify_consistency_proof(later, KEY.public_key()).ok
    with sessions() as session, pytest.raises(ProofNotFoundError, match=r"records 1\.\.300 of acme were pruned"):
        prove_consistency(session, "acme", 150)
    with transaction(sessions) as session:
        log.append(session, event(600))
    assert verify_export(lines(export(sessions)), KEY.public_key()).ok
    with sessions() as session:
        nodes = [tuple(row) for row in session.execute(select(audit_tree_nodes.c.level, audit_tree_nodes.c.idx))]
    assert (5, 8) in nodes and (2, 74) in nodes  # decompose(0, 300) below the stored level: 256 + 32 + 8 + 4


# -- the tail attacks ----------------------------------------------------------------------------------------


def rewrite_from(session: Session, seq: int, tenant: str = "acme") -> tuple[int, str, bytes]:
    """An insider with the database (not the key) rewrites records from `seq` on, relinks the chain and
    recomputes the head row, its tree and the stored subtrees: everything but a signature."""
    r = audit_records.c
    rows = session.execute(select(r.seq, r.hash, r.body).where(r.tenant_id == tenant).order_by(r.seq)).all()
    frontier, prev = Frontier(), None
    session.execute(delete(audit_tree_nodes).where(audit_tree_nodes.c.tenant_id == tenant))
    for number, stored_hash, stored_body in rows:
        digest = stored_hash
        if number >= seq:
            item = orjson.loads(stored_body)
            item["prev"] = prev
            if number == seq:
                item["outcome"] = "denied"
            body = canonical_bytes(item)
            digest = hashlib.sha256(body).hexdigest()
            session.execute(
                update(audit_records).where(r.tenant_id == tenant, r.seq == number).values(hash=digest, body=body)
            )
        for node, value in frontier.append(leaf_hash(bytes.fromhex(digest)), keep_level=TILE_LEVEL):
            session.execute(
                audit_tree_nodes.insert().values(tenant_id=tenant, level=node.level, idx=node.index, hash=value)
            )
        prev = digest
    session.execute(
        update(audit_heads).where(audit_heads.c.tenant_id == tenant).values(hash=prev, tree=frontier.to_bytes())
    )
    return rows[-1][0], str(prev), frontier.to_bytes()


def test_rewriting_the_records_after_the_last_checkpoint_and_relinking_the_head_fails(
    sessions: sessionmaker[Session],
) -> None:
    log = AuditLog(KEY, checkpoint_every=1000)
    append(sessions, log, 130, batch=13)  # kept checkpoints: 13 only (the first); every commit signed its head
    with transaction(sessions) as session:
        rewrite_from(session, 18)
    report = verify_export(lines(export(sessions)), KEY.public_key())
    assert not report.ok
    assert {p.kind for p in report.problems} == {ProblemKind.CHECKPOINT_MISMATCH}
    assert "records 1..130 differs" in report.problems[0].message or "seq 130" in str(report.problems[0])
    with pytest.raises(AuditTamperedError, match="is not the one its signed tree head covers"):
        append(sessions, AuditLog(KEY), 1)  # a fresh gateway process refuses to sign over it too
    # ... and with the signed head removed as well, nothing signed covers the rewritten records.
    with transaction(sessions) as session:
        session.execute(update(audit_heads).values(signed_head=None))
    report = verify_export(lines(export(sessions)), KEY.public_key())
    assert [p.kind for p in report.problems] == [ProblemKind.UNSIGNED_RECORDS]
    assert "records 14..130 are covered by no signed tree head" in report.problems[0].message  # kept: 13
    with pytest.raises(AuditTamperedError, match="has 130 records but no signed tree head"):
        append(sessions, AuditLog(KEY), 1)


def test_deleting_the_tail_and_resetting_the_head_fails(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(KEY, checkpoint_every=50)
    append(sessions, log, 130, batch=10)  # kept checkpoints at 1, 50, 100
    before = export(sessions)
    with transaction(sessions) as session:  # delete records 118..130 and reset the head to 117
        session.execute(delete(audit_records).where(audit_records.c.seq > 117))
        frontier = Frontier()
        hashes = session.execute(select(audit_records.c.hash).order_by(audit_records.c.seq)).scalars().all()
        frontier.extend(leaf_hash(bytes.fromhex(value)) for value in hashes)
        session.execute(
            update(audit_heads).values(seq=117, hash=hashes[-1], tree=frontier.to_bytes(), checkpoint_seq=100)
        )
    with pytest.raises(AuditTamperedError, match="is not the one its signed tree head covers"):
        append(sessions, AuditLog(KEY), 1)
    with transaction(sessions) as session:  # no signed head over 117 exists: drop the one over 130
        session.execute(update(audit_heads).values(signed_head=None))
    report = verify_export(lines(export(sessions)), KEY.public_key())
    assert [p.kind for p in report.problems] == [ProblemKind.UNSIGNED_RECORDS]
    assert "records 101..117" in report.problems[0].message
    # The most an insider can do: cut back to a kept checkpoint and copy it in as the head's signed head.
    with transaction(sessions) as session:
        session.execute(delete(audit_records).where(audit_records.c.seq > 100))
        frontier = Frontier()
        hashes = session.execute(select(audit_records.c.hash).order_by(audit_records.c.seq)).scalars().all()
        frontier.extend(leaf_hash(bytes.fromhex(value)) for value in hashes)
        kept = checkpoint_from_row(
            session.execute(select(audit_checkpoints).where(audit_checkpoints.c.seq == 100)).one()
        )
        session.execute(
            update(audit_heads).values(
                seq=100, hash=hashes[-1], tree=frontier.to_bytes(), signed_head=checkpoint_bytes(kept)
            )
        )
    with pytest.raises(AuditTamperedError, match="went back from 130 to 100 records"):
        append(sessions, log, 1)  # the gateway that signed 130 notices at once
    cut = export(sessions)
    assert verify_export(lines(cut), KEY.public_key()).ok  # the database alone cannot show it, but
    _, _, continuity = verify_export_extends(lines(before), lines(cut), KEY.public_key())
    assert continuity.problems == [
        "the log shrank: the earlier export's signed head covers 130 records, this one's 100"
    ]  # any signed head held outside (an earlier export, the customer's bucket) does


def test_a_head_signed_by_another_key_is_refused(sessions: sessionmaker[Session]) -> None:
    append(sessions, AuditLog(OTHER), 2)
    with pytest.raises(AuditTamperedError, match="which is not this gateway's"):
        append(sessions, AuditLog(KEY), 1)
    append(sessions, AuditLog(KEY, previous_keys=[OTHER.public_key()]), 1)  # after a rotation: accepted


def test_seal_signs_a_log_written_before_tree_heads_once(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(KEY)
    append(sessions, log, 5)
    with transaction(sessions) as session:  # as the 0004 migration leaves a log written before it
        session.execute(update(audit_heads).values(signed_head=None))
        session.execute(delete(audit_checkpoints))
    fresh = AuditLog(KEY)
    with pytest.raises(AuditTamperedError, match="seal it once"):
        append(sessions, fresh, 1)
    with transaction(sessions) as session:
        head = fresh.seal(session, "acme")
    assert head.seq == 5
    with transaction(sessions) as session, pytest.raises(ValueError, match="already has a signed tree head"):
        fresh.seal(session, "acme")
    append(sessions, fresh, 1)
    assert verify_export(lines(export(sessions)), KEY.public_key()).ok
