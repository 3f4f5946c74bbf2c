"""checkov 3.3.30 (its own venv, installed by scripts/bootstrap.sh) on each committed kit: with the kit's
checkov.yaml, zero failed checks; without it, the failures are exactly the (check, resource) pairs the kit
declares skipped next to the resource, with a reason — so a skip can neither hide another resource's failure
nor outlive the failure it excuses. checkov's terraform_json runner reads no inline suppressions
(bridgecrewio/checkov#4634), hence the config file."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.byob.synth import CHECKOV_FILE, declared_skips
from tests.infra.byob.terraform_eval import KITS, load_kit

CHECKOV = Path(__file__).resolve().parents[3] / ".tools" / "checkov" / "bin" / "checkov"
CLOUDS = ["aws", "gcp", "azure"]


def run_checkov(kit: Path, *extra: str) -> dict[str, Any]:
    if not CHECKOV.exists():  # a missing scanner is a failure, never a skip: bootstrap installs it
        pytest.fail(f"{CHECKOV} is missing; run make setup")
    command = [
        str(CHECKOV),
        "-d",
        str(kit),
        "--framework",
        "terraform_json",
        "--skip-download",
        "--quiet",
        "-o",
        "json",
    ]
    done = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(done.stdout)
    assert report["summary"]["parsing_errors"] == 0
    return dict(report)


def resource_name(checkov_resource: str) -> str:
    """checkov names a block `aws_s3_bucket.bucket[0]`, `resource.bucket` or `data.name`: the name is unique."""
    return re.sub(r"\[\d+\]$", "", checkov_resource.rsplit(".", 1)[-1])


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_kit_has_no_failed_check(cloud: str) -> None:
    report = run_checkov(KITS / cloud, "--config-file", str(KITS / cloud / CHECKOV_FILE))
    assert report["results"]["failed_checks"] == []
    assert report["summary"]["passed"] > 5


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_skip_excuses_exactly_its_resources_failure(cloud: str) -> None:
    report = run_checkov(KITS / cloud)
    failed = {(r["check_id"], resource_name(r["resource"])) for r in report["results"]["failed_checks"]}
    declared = {(check, address.rsplit(".", 1)[-1]) for address, check, _ in declared_skips(load_kit(cloud))}
    assert failed == declared
    assert all(len(reason) > 20 for _, _, reason in declared_skips(load_kit(cloud)))


def test_a_kit_with_a_weakened_resource_fails(tmp_path: Path) -> None:
    """The scan is not vacuous: public access allowed on the AWS bucket is reported."""
    kit = load_kit("aws")
    kit["resource"]["aws_s3_bucket_public_access_block"]["bucket_public_access_block"]["block_public_policy"] = False
    (tmp_path / "cdk.tf.json").write_text(json.dumps(kit))
    report = run_checkov(tmp_path, "--config-file", str(KITS / "aws" / CHECKOV_FILE))
    assert "CKV_AWS_54" in {r["check_id"] for r in report["results"]["failed_checks"]}
