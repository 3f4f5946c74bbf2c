"""Sealing stored secrets (AES-256-GCM, auth.sealing): a value opens only with the key that sealed it and only
in the column it was sealed for; any altered byte, unknown key or plain value is refused with a message that
names the column and key id and never the value; a rotation's previous keys still open older values; a
SealedText column never writes without a key and reads an unreadable value as absent (logged, not raised)."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy.exc import StatementError

from auth.sealing import (
    PREFIX,
    SealedText,
    SealingError,
    SecretSealer,
    SecretsKeyError,
    bind_sealer,
    generate_secrets_key,
    parse_secrets_key,
    sealed_key_id,
    secrets_key_id,
)

SECRET = "refresh-token-Zq81-do-not-leak"
PURPOSE = "user_sessions.idp_token"


def sealer(*previous: bytes) -> SecretSealer:
    return SecretSealer(os.urandom(32), previous)


def test_a_sealed_value_opens_to_the_plaintext_and_never_contains_it() -> None:
    box = sealer()
    sealed = box.seal(SECRET, PURPOSE)
    assert sealed.startswith(f"{PREFIX}{box.key_id}:")
    assert SECRET not in sealed and base64.b64encode(SECRET.encode()).decode()[:12] not in sealed
    assert box.open(sealed, PURPOSE) == SECRET
    assert box.seal(SECRET, PURPOSE) != sealed  # a fresh nonce each time
    assert box.open(box.seal("", PURPOSE), PURPOSE) == ""
    assert box.open(box.seal("ünïcødé ✓", PURPOSE), PURPOSE) == "ünïcødé ✓"


def test_a_value_sealed_for_one_column_does_not_open_in_another() -> None:
    box = sealer()
    with pytest.raises(SealingError, match=r"sso_providers\.client_secret: the value sealed with key \w+ was altered"):
        box.open(box.seal(SECRET, PURPOSE), "sso_providers.client_secret")


@pytest.mark.parametrize("plaintext", [SECRET, SECRET + "x", SECRET + "xy"])  # each length mod 3: padding bits
def test_every_altered_character_is_refused(plaintext: str) -> None:
    box = sealer()
    sealed = box.seal(plaintext, PURPOSE)
    body = len(PREFIX) + len(box.key_id) + 1
    for index in range(body, len(sealed)):
        for replacement in "AB-_":
            if replacement == sealed[index]:
                continue
            altered = sealed[:index] + replacement + sealed[index + 1 :]
            with pytest.raises(SealingError) as refused:
                box.open(altered, PURPOSE)
            assert plaintext not in str(refused.value)
    with pytest.raises(SealingError, match="altered"):
        box.open(sealed + "=", PURPOSE)  # padding added
    with pytest.raises(SealingError, match="altered"):
        box.open(sealed[:-4], PURPOSE)  # truncated
    with pytest.raises(SealingError, match="altered"):
        box.open(sealed[:body], PURPOSE)  # nothing after the header


def test_an_unknown_key_or_a_plain_value_is_refused_by_name() -> None:
    other = sealer()
    sealed = other.seal(SECRET, PURPOSE)
    with pytest.raises(SealingError, match=f"sealed with key {other.key_id}, which this gateway was not given"):
        sealer().open(sealed, PURPOSE)
    for plain in (SECRET, "sealed:v1:short:abc", "sealed:v2:" + sealed[len(PREFIX) :], ""):
        with pytest.raises(SealingError, match="is not sealed") as refused:
            other.open(plain, PURPOSE)
        assert SECRET not in str(refused.value)


def test_a_rotation_opens_old_values_and_seals_new_ones_with_the_new_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = SecretSealer(old_key)
    sealed_before = old.seal(SECRET, PURPOSE)
    rotating = SecretSealer(new_key, [old_key])
    assert rotating.open(sealed_before, PURPOSE) == SECRET
    assert rotating.key_id == secrets_key_id(new_key) != old.key_id
    assert sealed_key_id(rotating.seal(SECRET, PURPOSE)) == secrets_key_id(new_key)
    assert rotating.knows(old.key_id) and rotating.knows(rotating.key_id) and not rotating.knows("0" * 12)
    with pytest.raises(SealingError, match="was not given"):
        SecretSealer(new_key).open(sealed_before, PURPOSE)  # the old key dropped too early


def test_keys_are_32_bytes_of_base64_and_errors_never_echo_them() -> None:
    assert len(parse_secrets_key(generate_secrets_key())) == 32
    assert generate_secrets_key() != generate_secrets_key()
    for bad, why in (
        ("not a key!", "is base64"),
        (base64.b64encode(b"k" * 16).decode(), "32 bytes"),
        (base64.b64encode(b"k" * 33).decode(), "32 bytes"),
        ("", "32 bytes"),
    ):
        with pytest.raises(SecretsKeyError, match=why) as refused:
            parse_secrets_key(bad)
        assert not bad or bad not in str(refused.value)


def test_sealed_key_id_reads_only_the_sealed_format() -> None:
    assert sealed_key_id(f"{PREFIX}0123456789ab:xyz") == "0123456789ab"
    for value in ("", "plain", f"{PREFIX}0123456789ab", f"{PREFIX}short:xyz", "sealed:v0:0123456789ab:xyz"):
        assert sealed_key_id(value) is None


def _table() -> tuple[MetaData, Table]:
    metadata = MetaData()
    return metadata, Table(
        "vault", metadata, Column("id", String(8), primary_key=True), Column("v", SealedText(PURPOSE))
    )


def test_a_sealed_column_seals_on_write_opens_on_read_and_never_writes_without_a_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metadata, vault = _table()
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as db, pytest.raises(StatementError, match="no secrets key is bound") as refused:
        db.execute(insert(vault).values(id="a", v=SECRET))
    assert isinstance(refused.value.orig, SealingError) and SECRET not in str(refused.value)
    box = sealer()
    bind_sealer(engine, box)
    with engine.begin() as db:
        db.execute(insert(vault).values(id="a", v=SECRET))
        db.execute(insert(vault).values(id="b", v=None))
        raw = db.execute(text("SELECT v FROM vault WHERE id = 'a'")).scalar_one()
        assert raw.startswith(f"{PREFIX}{box.key_id}:") and SECRET not in raw
        assert dict(db.execute(select(vault.c.id, vault.c.v)).all()) == {"a": SECRET, "b": None}
    bind_sealer(engine, sealer())  # the gateway restarted with another key
    with engine.begin() as db, caplog.at_level(logging.WARNING, logger="auth.sealing"):
        assert db.execute(select(vault.c.v).where(vault.c.id == "a")).scalar_one() is None
    (warning,) = caplog.records
    assert f"{PURPOSE}: sealed with key {box.key_id}" in warning.getMessage()
    assert SECRET not in caplog.text and raw not in caplog.text
    engine.dispose()
