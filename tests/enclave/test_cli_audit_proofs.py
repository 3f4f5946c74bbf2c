"""The audit log's proofs, continuity, key rotation and bucket sync end to end through the `enclave` command line,
on a real SQLite database and the local store with real bytes: what verifies, and the issue's tail attacks
(rewrite the tail and relink the head; delete the tail and copy a kept checkpoint in as the head) failing
verification; a rewritten synced segment named by `verify-bucket` and by the customer's own script."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from audit.checkpoints import checkpoint_bytes
from audit.merkle import Frontier, leaf_hash
from audit.signing import generate_private_key_pem
from audit.store.reader import checkpoint_from_row
from audit.store.tables import audit_checkpoints, audit_heads, audit_records
from enclave.cli.main import app
from tests.audit.store.test_proofs import rewrite_from

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


class Home:
    """A gateway's data dir driven only through the command line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            "ENCLAVE_DATA_DIR": str(root / "data"),
            "ENCLAVE_TENANT": "acme",
            "ENCLAVE_AUDIT_CHECKPOINT_EVERY": "5",
            "COLUMNS": "200",
        }

    def run(self, *args: str, code: int = 0, **env: str) -> Result:
        result = runner.invoke(app, list(args), env={**self.env, **env})
        assert result.exit_code == code, result.stdout + result.stderr
        return result

    def said(self, *args: str, code: int = 0, **env: str) -> str:
        """What the command printed (stdout and stderr), with the terminal's line wrapping undone."""
        result = self.run(*args, code=code, **env)
        return " ".join((result.stdout + result.stderr).split())

    def add_records(self, count: int) -> None:
        for _ in range(count):
            self.run("apikey", "create", "--tenant", "acme", "--role", "viewer")

    def file(self, name: str, text: str | bytes) -> Path:
        path = self.root / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def export(self, name: str) -> Path:
        self.run("audit", "export", "--tenant", "acme", "--out", str(self.root / name))
        return self.root / name

    @property
    def bucket(self) -> Path:
        return self.root / "data" / "objects" / "data" / "tenants" / "acme" / "enclave-audit"

    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(create_engine(f"sqlite:///{self.root / 'data' / 'enclave.db'}"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    started = Home(tmp_path)
    started.add_records(6)
    started.file("public.pem", started.run("audit", "public-key").stdout)
    return started


def customer_script(home: Home) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "verify_audit_bucket.py"),
            str(home.bucket),
            "--public-key",
            str(home.root / "public.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def synced(home: Home) -> None:
    home.run("storage", "connect", "-t", "acme", "--backend", "local", "--bucket", "data", "--prefix", "tenants/acme")
    home.run("audit", "sync", "enable", "--tenant", "acme", "--grant", "default")
    assert (
        "synced: the bucket's newest signed head covers"
        in home.run("audit", "sync", "run", "-t", "acme", "--grant", "default").stdout
    )


def verify_bucket(home: Home, code: int) -> Result:
    pem = str(home.root / "public.pem")
    return home.run("audit", "verify-bucket", "--tenant", "acme", "--grant", "default", "--public-key", pem, code=code)


def test_proofs_made_by_prove_verify_offline_and_forged_ones_fail(home: Home) -> None:
    pem = str(home.root / "public.pem")
    proof = home.file("inclusion.json", home.run("audit", "prove", "--tenant", "acme", "--inclusion", "3").stdout)
    checked = home.said("audit", "verify", "--proof", str(proof), "--public-key", pem)
    assert "record 3 of acme (auth.apikey.created" in checked
    forged = orjson.loads(proof.read_bytes())
    forged["path"][0] = "00" * 32
    bad = home.file("forged.json", orjson.dumps(forged))
    assert "is not in the signed tree" in home.said("audit", "verify", "--proof", str(bad), "--public-key", pem, code=1)

    may = home.export("may.jsonl")
    home.add_records(4)
    june = home.export("june.jsonl")
    extends = home.said("audit", "verify", str(june), "--extends", str(may), "--public-key", pem)
    assert "it extends it" in extends
    old_size = orjson.loads(may.read_bytes().splitlines()[-2])["seq"]  # the checkpoint line before the proof
    consistency = home.file(
        "consistency.json", home.run("audit", "prove", "-t", "acme", "--consistency", str(old_size)).stdout
    )
    held = home.said("audit", "verify", "--proof", str(consistency), "--previous", str(may), "--public-key", pem)
    assert f"extends the tree of the first {old_size} records" in held and "held by the verifier" in held
    as_json = orjson.loads(home.run("audit", "verify", str(june), "--public-key", pem, "--json").stdout)
    assert as_json["ok"] is True and as_json["tenant"] == "acme" and as_json["partial"] is False


def test_rewriting_the_tail_and_relinking_the_head_fails_through_the_cli(home: Home) -> None:
    synced(home)
    sessions = home.sessions()
    with sessions.begin() as session:
        rewrite_from(session, 4)
    refused = home.said("audit", "export", "--tenant", "acme", "--out", str(home.root / "x.jsonl"), code=1)
    assert "the audit log cannot be written" in refused  # the export is audited first: refused
    failed = home.said("audit", "sync", "run", "--tenant", "acme", "--grant", "default", code=1)
    assert "does not extend the head synced to the bucket" in failed and "rewritten outside Enclave" in failed
    status = orjson.loads(home.run("audit", "sync", "status", "--tenant", "acme", "--json").stdout)
    assert status[0]["state"] == "failing" and status[0]["failures"] == 1
    assert "OK" in verify_bucket(home, 0).stdout  # the customer's copy still holds the true history


def test_deleting_the_tail_and_copying_a_kept_checkpoint_in_as_the_head_fails(home: Home) -> None:
    pem = str(home.root / "public.pem")
    synced(home)
    before = home.export("before.jsonl")
    sessions = home.sessions()
    with sessions.begin() as session:  # cut back to the kept checkpoint at 5, signed by the gateway itself
        session.execute(delete(audit_records).where(audit_records.c.seq > 5))
        hashes = session.execute(select(audit_records.c.hash).order_by(audit_records.c.seq)).scalars().all()
        frontier = Frontier()
        frontier.extend(leaf_hash(bytes.fromhex(value)) for value in hashes)
        c = audit_checkpoints.c
        kept = checkpoint_from_row(
            session.execute(select(audit_checkpoints).where(c.seq == 5, c.kind == "checkpoint")).one()
        )
        session.execute(
            update(audit_heads).values(
                seq=5, hash=hashes[-1], tree=frontier.to_bytes(), signed_head=checkpoint_bytes(kept)
            )
        )
        session.execute(delete(audit_checkpoints).where(c.seq > 5))
    cut = home.export("cut.jsonl")  # a fresh process cannot tell from the database alone ...
    assert home.run("audit", "verify", str(cut), "--public-key", pem).exit_code == 0
    shrank = home.said("audit", "verify", str(cut), "--extends", str(before), "--public-key", pem, code=1)
    assert "the log shrank" in shrank  # ... but the auditor's earlier export shows it
    failed = home.said("audit", "sync", "run", "--tenant", "acme", "--grant", "default", code=1)
    assert "were synced to the bucket: records were deleted outside Enclave" in failed  # so does the bucket


def test_a_rewritten_synced_segment_is_named_by_verify_bucket_and_the_customers_script(home: Home) -> None:
    synced(home)
    assert "OK" in verify_bucket(home, 0).stdout
    assert customer_script(home).returncode == 0
    (segment,) = sorted((home.bucket / "segments").iterdir())
    segment.write_bytes(segment.read_bytes().replace(b'"role":"viewer"', b'"role":"admin"', 1))
    failed = verify_bucket(home, 1)
    assert f"segments/{segment.name}" in " ".join(failed.stderr.split())
    script = customer_script(home)
    assert script.returncode == 1 and f"segments/{segment.name}" in script.stderr


def test_a_rotated_key_verifies_old_and_new_heads_each_only_in_its_range(home: Home) -> None:
    old_pem = str(home.root / "public.pem")
    new_key = generate_private_key_pem()
    new_file = home.file("new.pem", new_key)
    at = datetime.now(UTC) + timedelta(seconds=3)
    rotated = home.said("audit", "rotate-key", "--new-key-file", str(new_file), "--at", at.isoformat())
    assert "published as entry 1 of the key history" in rotated
    old_key = (home.root / "data" / "audit-signing-key.pem").read_text()
    refused = home.said("tenant", "list", code=1)  # the old key is configured still: restart with the new one
    assert "is an older key (entry 0)" in refused
    home.env["ENCLAVE_AUDIT_SIGNING_KEY"] = new_key
    keys = home.file("keys.json", home.run("audit", "key-history").stdout)
    assert [entry["position"] for entry in orjson.loads(keys.read_bytes())["entries"]] == [0, 1]
    time.sleep(max((at - datetime.now(UTC)).total_seconds(), 0) + 0.2)
    home.add_records(2)  # the new key extends the head the old key signed
    export = home.export("after.jsonl")
    assert "OK" in home.said("audit", "verify", str(export), "--public-key", old_pem, "--key-history", str(keys))
    assert "unknown-key" in home.said("audit", "verify", str(export), "--public-key", old_pem, code=1)
    assert "is an older key (entry 0)" in home.said("tenant", "list", code=1, ENCLAVE_AUDIT_SIGNING_KEY=old_key)


def test_a_log_without_a_signed_head_is_refused_until_sealed_once(home: Home) -> None:
    with home.sessions().begin() as session:  # what migration 0004 leaves for a log written before tree heads
        session.execute(update(audit_heads).values(signed_head=None))
    assert "the audit log cannot be written" in home.said("apikey", "create", "-t", "acme", "--role", "viewer", code=1)
    sealed = home.said("audit", "seal", "--tenant", "acme")
    assert "sealed the audit log of acme: tree head over 7 records" in sealed
    assert "already has a signed tree head" in home.said("audit", "seal", "--tenant", "acme", code=1)
    home.add_records(1)
    export = home.export("sealed.jsonl")
    assert "OK" in home.said("audit", "verify", str(export), "--public-key", str(home.root / "public.pem"))
    assert b'"action":"audit.sealed"' in export.read_bytes()
