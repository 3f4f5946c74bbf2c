"""Export writers: signed JSONL, CSV and OCSF."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.actions import ACTIONS, OcsfClass
from audit.checkpoints import Checkpoint
from audit.events import Actor, ActorKind, AuditEvent, Outcome, StoredRecord, empty_head, head_after, link
from audit.export import ExportHeader, InvalidExportError, write_csv, write_jsonl, write_ocsf
from audit.export.csv_format import COLUMNS, safe_cell
from audit.export.jsonl import ExportProof, header_hash
from audit.export.ocsf import ACTIVITIES, OCSF_CLASSES
from audit.signing import key_id
from audit.verify import verify_export
from tests.audit.chains import signed_head

KEY = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
KEY_ID = key_id(KEY.public_key())
T0 = datetime(2026, 6, 1, 8, 0, 0, 250000, tzinfo=UTC)


def chain(events: list[AuditEvent]) -> list[StoredRecord]:
    head = empty_head(events[0].tenant)
    records = []
    for event in events:
        record = link(head, event)
        head = head_after(record)
        records.append(StoredRecord(record.seq, record.hash, record.body))
    return records


def event(action: str = "storage.urls.issued", **fields: object) -> AuditEvent:
    values: dict[str, object] = {
        "tenant": "acme",
        "actor": Actor(ActorKind.USER, "alice", "alice@example.com", "203.0.113.9", "Mozilla/5.0"),
        "action": action,
        "target": "tenants/acme/report.pdf",
        "request_id": "req-1",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "details": {"count": 2},
        "time": T0,
    }
    values.update(fields)
    return AuditEvent(**values)  # type: ignore[arg-type]


def header(**fields: object) -> ExportHeader:
    values: dict[str, object] = {"tenant": "acme", "exported_at": T0, "exported_by": "alice", "key_id": KEY_ID}
    values.update(fields)
    return ExportHeader(**values)  # type: ignore[arg-type]


def checkpoint(records: list[StoredRecord], seq: int) -> Checkpoint:
    return signed_head(KEY, records, seq, T0)


# -- JSONL ----------------------------------------------------------------------------------------------


def test_jsonl_layout_header_records_checkpoints_proof() -> None:
    records = chain([event(details={"n": i}) for i in range(5)])
    items: list[StoredRecord | Checkpoint] = [
        *records[:3],
        checkpoint(records, 3),
        *records[3:],
        checkpoint(records, 5),
    ]
    out = io.BytesIO()
    summary = write_jsonl(out, header(since=T0 - timedelta(days=1)), items, KEY)
    lines = out.getvalue().splitlines()
    kinds = [orjson.loads(line)["type"] for line in lines]
    assert kinds == ["header", "record", "record", "record", "checkpoint", "record", "record", "checkpoint", "proof"]
    assert (summary.count, summary.checkpoints, summary.anchors) == (5, 2, 0)
    assert (summary.first_seq, summary.last_seq, summary.last_hash) == (1, 5, records[-1].hash)
    first = orjson.loads(lines[0])
    assert first["format"] == "enclave-audit-jsonl"
    assert first["version"] == 3
    assert first["since"] == "2026-05-31T08:00:00.250000Z"
    assert first["until"] is None
    proof = ExportProof.from_json(orjson.loads(lines[-1]))
    assert proof.header_hash == header_hash(first)
    assert (proof.records, proof.first_seq, proof.last_seq, proof.last_hash) == (5, 1, 5, records[-1].hash)
    assert proof.first_prev == orjson.loads(records[0].body)["prev"]
    assert verify_export(out.getvalue().splitlines(keepends=True), KEY.public_key()).ok


def test_record_bodies_are_embedded_byte_for_byte() -> None:
    records = chain([event(reason='é ✓ \u2028 "quoted"')])
    out = io.BytesIO()
    write_jsonl(out, header(), records, KEY)
    line = out.getvalue().splitlines()[1]
    assert records[0].body in line
    assert line == b'{"body":' + records[0].body + b',"hash":"' + records[0].hash.encode() + b'","type":"record"}'


def test_jsonl_streams_as_items_arrive() -> None:
    records = chain([event(details={"n": i}) for i in range(50)])
    out = io.BytesIO()
    seen_sizes: list[int] = []

    def items() -> Iterator[StoredRecord]:
        for record in records:
            seen_sizes.append(len(out.getvalue()))
            yield record

    write_jsonl(out, header(), items(), KEY)
    assert seen_sizes == sorted(seen_sizes)
    assert len(set(seen_sizes)) == len(records)  # each record was written before the next was read


def test_jsonl_refuses_a_header_naming_another_key() -> None:
    other = key_id(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(InvalidExportError, match=f"header names key {other}"):
        write_jsonl(io.BytesIO(), header(key_id=other), [], KEY)


def test_jsonl_refuses_records_out_of_order() -> None:
    records = chain([event(), event()])
    with pytest.raises(InvalidExportError, match="record seq 1 follows seq 2"):
        write_jsonl(io.BytesIO(), header(), [records[1], records[0]], KEY)


def test_jsonl_refuses_another_tenants_items() -> None:
    records = chain([event()])
    other = chain([event(tenant="globex")])
    with pytest.raises(InvalidExportError, match="not a record of tenant acme"):
        write_jsonl(io.BytesIO(), header(), other, KEY)
    foreign = signed_head(KEY, other, 1, T0, tenant="globex")
    with pytest.raises(InvalidExportError, match="checkpoint of tenant globex"):
        write_jsonl(io.BytesIO(), header(), [records[0], foreign], KEY)


def test_empty_export_has_a_proof_with_null_ends() -> None:
    out = io.BytesIO()
    summary = write_jsonl(out, header(), [], KEY)
    proof = orjson.loads(out.getvalue().splitlines()[-1])
    assert summary.count == 0
    assert (proof["records"], proof["first_seq"], proof["last_hash"]) == (0, None, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tenant": "ACME!"}, "tenant is not a valid"),
        ({"exported_by": ""}, "exported_by"),
        ({"key_id": "nothex"}, "key_id must be 16"),
        ({"exported_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"since": T0, "until": T0}, "since must be earlier than until"),
        ({"version": 1}, "unsupported export format"),
    ],
)
def test_header_validation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidExportError, match=message):
        header(**fields)


def test_header_json_round_trip_and_errors() -> None:
    original = header(since=T0, until=T0 + timedelta(hours=1))
    assert ExportHeader.from_json(orjson.loads(orjson.dumps(original.to_json()))) == original
    with pytest.raises(InvalidExportError, match="first line must be the export header"):
        ExportHeader.from_json({"type": "record"})
    data = original.to_json()
    del data["key_id"]
    with pytest.raises(InvalidExportError, match="missing key_id"):
        ExportHeader.from_json(data)
    with pytest.raises(InvalidExportError, match="since must look like"):
        ExportHeader.from_json({**original.to_json(), "since": "last week"})


def test_proof_json_errors() -> None:
    out = io.BytesIO()
    write_jsonl(out, header(), chain([event()]), KEY)
    proof = orjson.loads(out.getvalue().splitlines()[-1])
    with pytest.raises(InvalidExportError, match="malformed records"):
        ExportProof.from_json({**proof, "records": -1})
    with pytest.raises(InvalidExportError, match="missing signature"):
        ExportProof.from_json({k: v for k, v in proof.items() if k != "signature"})


# -- CSV ------------------------------------------------------------------------------------------------


def _csv_rows(records: list[StoredRecord]) -> list[dict[str, str]]:
    out = io.BytesIO()
    count = write_csv(out, records)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert count == len(rows) == len(records)
    return rows


def test_csv_one_row_per_event_with_flattened_actor_and_json_details() -> None:
    records = chain(
        [
            event(details={"keys": ["a, b.txt", 'q"uote'], "count": 2}),
            event("auth.login.failed", outcome=Outcome.DENIED),
        ]
    )
    rows = _csv_rows(records)
    assert list(rows[0]) == list(COLUMNS)
    first = rows[0]
    assert (first["seq"], first["action"], first["outcome"]) == ("1", "storage.urls.issued", "success")
    assert (first["actor_kind"], first["actor_id"], first["actor_email"]) == ("user", "alice", "alice@example.com")
    assert (first["actor_ip"], first["actor_user_agent"]) == ("203.0.113.9", "Mozilla/5.0")
    assert orjson.loads(first["details"]) == {"keys": ["a, b.txt", 'q"uote'], "count": 2}
    assert first["hash"] == records[0].hash
    assert rows[1]["prev"] == records[0].hash
    assert rows[1]["outcome"] == "denied"
    assert rows[1]["reason"] == ""


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_cannot_become_formulas(payload: str) -> None:
    records = chain([event(target=payload, actor=Actor(ActorKind.USER, payload, user_agent=payload), reason=payload)])
    row = _csv_rows(records)[0]
    for column in ("target", "actor_id", "actor_user_agent", "reason"):
        assert row[column] == "'" + payload
    assert safe_cell("plain") == "plain"
    assert safe_cell(None) == ""
    assert safe_cell(-1) == "'-1"


def test_csv_writes_in_batches_of_many_rows() -> None:
    records = chain([event(details={"n": i}) for i in range(2500)])
    assert len(_csv_rows(records)) == 2500


# -- OCSF -----------------------------------------------------------------------------------------------


def _ocsf(records: list[StoredRecord]) -> list[dict[str, object]]:
    out = io.BytesIO()
    count = write_ocsf(out, records)
    events = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(events) == len(records)
    return events


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_maps_to_its_ocsf_class(action: str) -> None:
    (ocsf,) = _ocsf(chain([event(action)]))
    expected = {
        OcsfClass.AUTHENTICATION: (3002, 3),
        OcsfClass.ACCOUNT_CHANGE: (3001, 3),
        OcsfClass.API_ACTIVITY: (6003, 6),
    }
    class_uid, category_uid = expected[ACTIONS[action].ocsf]
    activity_id = ACTIVITIES[action][0]
    assert (ocsf["class_uid"], ocsf["category_uid"], ocsf["activity_id"]) == (class_uid, category_uid, activity_id)
    assert ocsf["type_uid"] == class_uid * 100 + activity_id
    assert ocsf["message"] == ACTIONS[action].description


def test_activity_table_covers_exactly_the_catalogue() -> None:
    assert sorted(ACTIVITIES) == sorted(ACTIONS)
    assert set(OCSF_CLASSES) == set(OcsfClass)


def test_ocsf_event_fields() -> None:
    records = chain(
        [
            event("auth.login.failed", outcome=Outcome.DENIED, reason="bad nonce", details={"idp": "google"}),
            event("storage.grant.revoked", actor=Actor(ActorKind.OPERATOR, "ops")),
            event("auth.user.role.changed", target="user:bob", outcome=Outcome.ERROR),
        ]
    )
    login, revoked, role = _ocsf(records)
    assert login["time"] == int(T0.timestamp() * 1000)
    assert (login["status_id"], login["status"], login["status_detail"]) == (2, "Failure", "bad nonce")
    assert login["severity_id"] == 3
    assert login["actor"] == {"user": {"uid": "alice", "type_id": 1, "type": "User", "email_addr": "alice@example.com"}}
    assert login["user"] == login["actor"]["user"]
    assert login["src_endpoint"] == {"ip": "203.0.113.9"}
    assert login["http_request"] == {"user_agent": "Mozilla/5.0"}
    metadata = login["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["product"]["name"] == "Enclave"
    assert (metadata["uid"], metadata["correlation_uid"], metadata["tenant_uid"]) == (
        orjson.loads(records[0].body)["id"],
        "req-1",
        "acme",
    )
    assert metadata["version"].startswith("1.")
    unmapped = login["unmapped"]
    assert isinstance(unmapped, dict)
    assert unmapped["details"] == {"idp": "google"}
    assert unmapped["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert unmapped["chain"] == {"seq": 1, "prev": orjson.loads(records[0].body)["prev"], "hash": records[0].hash}

    assert (revoked["status_id"], revoked["severity_id"]) == (1, 1)
    assert revoked["actor"]["user"]["type"] == "Admin"  # type: ignore[index]
    assert revoked["api"] == {"operation": "storage.grant.revoked", "service": {"name": "Enclave"}}
    assert revoked["resources"] == [{"uid": "tenants/acme/report.pdf"}]
    assert "status_detail" not in revoked

    assert role["user"] == {"uid": "user:bob"}
    assert (role["status_id"], role["severity_id"]) == (2, 2)


def test_ocsf_leaves_out_absent_endpoint_fields() -> None:
    (system,) = _ocsf(chain([event("audit.pruned", actor=Actor(ActorKind.SYSTEM, "enclave"), target=None)]))
    assert "src_endpoint" not in system
    assert "http_request" not in system
    assert "resources" not in system
    assert system["actor"] == {"user": {"uid": "enclave", "type_id": 3, "type": "System"}}
