"""`enclave byob synth`: bad options are refused (exit 2, one line each, nothing written) before any provider
binding loads; a good request writes the committed kit and a terraform.tfvars.json that passes the kit's own
validations."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli.main import app
from infra.byob.synth import KIT_FILES, KitCloud, cached_kit, generator_fingerprint
from tests.infra.byob.terraform_eval import KITS, Scope, load_kit

runner = CliRunner()
GCP = [
    "byob",
    "synth",
    "--cloud",
    "gcp",
    "--tenant",
    "acme",
    "--platform-identity",
    "acme-gateway@enclave-prod.iam.gserviceaccount.com",
    "--gateway-url",
    "https://acme.enclave.example.com",
    "--region",
    "europe-west1",
    "--project",
    "acme-data-123456",
]


def test_bad_options_are_refused_each_on_a_line_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "kit"
    result = runner.invoke(
        app,
        [
            "byob",
            "synth",
            "--cloud",
            "aws",
            "--tenant",
            "Acme",
            "--platform-identity",
            "arn:aws:iam::111122223333:root",
            "--gateway-url",
            "http://acme.example.com",
            "--prefix",
            "tenants/*/",
            "--project",
            "p",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "--tenant",
        "--platform-identity",
        "--gateway-url",
        "--prefix",
        "--region is required for the aws kit",
        "--project is not used by the aws kit",
    ]
    assert "Traceback" not in result.output and not out.exists()


def test_azure_takes_account_and_container_and_no_kms_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "byob",
            "synth",
            "--cloud",
            "azure",
            "--tenant",
            "acme",
            "--platform-identity",
            "0f0e0d0c-0b0a-0908-0706-050403020100",
            "--gateway-url",
            "https://acme.example.com",
            "--resource-group",
            "rg",
            "--existing-bucket",
            "acmedata",
            "--kms-key",
            "k",
            "--out",
            str(tmp_path / "kit"),
        ],
    )
    assert result.exit_code == 2
    assert "--existing-bucket: 'acmedata' is not ACCOUNT/CONTAINER" in result.stderr
    assert "--kms-key: the Azure kit encrypts with Microsoft-managed keys" in result.stderr


def test_bad_input_loads_no_provider_bindings(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom enclave.cli.main import app\n"
        f"r = CliRunner().invoke(app, {[*GCP[:-2], '--out', str(tmp_path)]!r})\n"
        "print(r.exit_code, sorted(m for m in sys.modules if m.startswith('cdktf')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "2 []"  # --project missing: refused before terraform-cdk even starts


def test_synth_writes_the_committed_kit_and_valid_tfvars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_BYOB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "kit"
    result = runner.invoke(app, [*GCP, "--existing-bucket", "acme-data", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "from the cache" not in result.stderr
    for name in KIT_FILES:
        assert (out / name).read_text() == (KITS / "gcp" / name).read_text()
    values = json.loads((out / "terraform.tfvars.json").read_text())
    assert values["create_bucket"] is False and values["bucket_name"] == "acme-data"
    assert values["prefix"] == "tenants/acme/"
    assert Scope(load_kit("gcp"), values).validation_errors() == []
    again = runner.invoke(app, [*GCP, "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = runner.invoke(app, [*GCP, "--out", str(out), "--force"])
    assert forced.exit_code == 0 and "from the cache" in forced.stderr
    for name in KIT_FILES:
        assert (out / name).read_text() == (KITS / "gcp" / name).read_text()
    generated = json.loads((out / "terraform.tfvars.json").read_text())
    assert generated["create_bucket"] is True and generated["bucket_name"].startswith("enclave-acme-")
    assert Scope(load_kit("gcp"), generated).validation_errors() == []


def test_a_tampered_cache_entry_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_BYOB_CACHE", str(tmp_path))
    entry = tmp_path / generator_fingerprint(KitCloud.GCP)
    entry.mkdir()
    for name in KIT_FILES:
        (entry / name).write_text((KITS / "gcp" / name).read_text())
    manifest = {name: hashlib.sha256((KITS / "gcp" / name).read_bytes()).hexdigest() for name in KIT_FILES}
    (entry / "manifest.json").write_text(json.dumps(manifest))
    assert cached_kit(KitCloud.GCP)[1] is True  # a sound entry is used
    (entry / "cdk.tf.json").write_text((KITS / "gcp" / "cdk.tf.json").read_text().replace("enforced", "inherited"))
    kit, reused = cached_kit(KitCloud.GCP)
    assert reused is False and kit.files["cdk.tf.json"] == (KITS / "gcp" / "cdk.tf.json").read_text()
    assert (entry / "cdk.tf.json").read_text() == kit.files["cdk.tf.json"]  # rewritten
