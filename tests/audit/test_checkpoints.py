from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoints import (
    Checkpoint,
    CheckpointSignatureError,
    InvalidCheckpointError,
    UnknownCheckpointKeyError,
    sign_checkpoint,
    verify_checkpoint,
)
from audit.signing import key_id

KEY = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
HEAD = "ab" * 32
ROOT = "cd" * 32
MOMENT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _checkpoint(**overrides: object) -> Checkpoint:
    fields: dict[str, object] = {
        "kind": "checkpoint",
        "tenant": "acme",
        "seq": 10,
        "head_hash": HEAD,
        "root": ROOT,
        "time": MOMENT,
    }
    fields.update(overrides)
    return sign_checkpoint(KEY, **fields)  # type: ignore[arg-type]


def test_signed_checkpoint_verifies_and_names_its_key() -> None:
    checkpoint = _checkpoint()
    assert checkpoint.key_id == key_id(KEY.public_key())
    assert checkpoint.pruned_count == 0
    assert "=" not in checkpoint.signature
    verify_checkpoint(checkpoint, KEY.public_key())


def test_time_is_kept_in_utc_to_the_microsecond() -> None:
    local = MOMENT.astimezone(timezone(timedelta(hours=5)))
    checkpoint = _checkpoint(time=local)
    assert checkpoint.time == MOMENT
    assert checkpoint.time.tzinfo == UTC
    assert checkpoint.to_json()["time"] == "2026-03-01T12:30:15.123456Z"


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 11},
        {"head_hash": "cd" * 32},
        {"root": "ab" * 32},
        {"tenant": "other"},
        {"time": MOMENT + timedelta(microseconds=1)},
        {"kind": "anchor"},
        {"pruned_count": 3, "kind": "anchor"},
    ],
)
def test_any_changed_field_breaks_the_signature(change: dict[str, object]) -> None:
    tampered = replace(_checkpoint(), **change)  # type: ignore[arg-type]
    with pytest.raises(CheckpointSignatureError, match="signature does not verify"):
        verify_checkpoint(tampered, KEY.public_key())


def test_a_checkpoint_signature_does_not_pass_as_an_anchor_with_the_same_fields() -> None:
    anchor = _checkpoint(kind="anchor", pruned_count=0)
    checkpoint = _checkpoint()
    assert anchor.signature != checkpoint.signature


def test_another_key_is_reported_as_unknown() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(UnknownCheckpointKeyError, match=key_id(KEY.public_key())):
        verify_checkpoint(_checkpoint(), other.public_key())
    forged = replace(_checkpoint(), key_id=key_id(other.public_key()))
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(forged, other.public_key())


def test_json_round_trip_through_bytes() -> None:
    anchor = _checkpoint(kind="anchor", pruned_count=7)
    data = orjson.loads(orjson.dumps(anchor.to_json()))
    assert data["type"] == "anchor"
    back = Checkpoint.from_json(data)
    assert back == anchor
    verify_checkpoint(back, KEY.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "digest"}, "type must be one of"),
        ({"seq": 0}, "seq must be an integer >= 1"),
        ({"seq": "10"}, "seq must be an integer"),
        ({"seq": True}, "seq must be an integer"),
        ({"head_hash": "AB" * 32}, "head_hash must be 64 lowercase hex"),
        ({"root": "ab" * 31}, "root must be 64 lowercase hex"),
        ({"tenant": "Not A Tenant"}, "tenant is not a valid tenant id"),
        ({"time": "yesterday"}, "time must look like"),
        ({"key_id": "xyz"}, "key_id must be 16"),
        ({"signature": "abc=="}, "signature must be base64url"),
        ({"pruned_count": 10}, "pruned_count of a checkpoint \\(where its chain starts\\) must be below seq"),
        ({"pruned_count": -1}, "pruned_count must be an integer between 0 and seq"),
        ({"extra": 1}, "unknown fields extra"),
    ],
)
def test_malformed_json_is_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    data = {**_checkpoint().to_json(), **change}
    with pytest.raises(InvalidCheckpointError, match=message):
        Checkpoint.from_json(data)


def test_missing_fields_and_non_objects_are_refused() -> None:
    data = _checkpoint().to_json()
    del data["head_hash"]
    with pytest.raises(InvalidCheckpointError, match="missing head_hash"):
        Checkpoint.from_json(data)
    with pytest.raises(InvalidCheckpointError, match="JSON object"):
        Checkpoint.from_json([1, 2])


def test_anchor_cannot_prune_more_than_it_covers() -> None:
    with pytest.raises(InvalidCheckpointError, match="between 0 and seq"):
        _checkpoint(kind="anchor", seq=5, pruned_count=6)


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidCheckpointError, match="timezone-aware"):
        _checkpoint(time=datetime(2026, 1, 1))
