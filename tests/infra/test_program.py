"""The Pulumi entry points as the Pulumi CLI runs them: the program by path with stack config, and the
policy pack by path from its own folder."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from infra.mockrun import run_program
from infra.preview import mock_outputs, mock_place, placeholder_config
from infra.program import SpecConfigError, spec_from_config
from infra.spec import TenantSpec

ROOT = Path(__file__).resolve().parents[2]
SPEC = TenantSpec.model_validate(
    {
        "name": "acme",
        "cloud": "aws",
        "region": "eu-west-1",
        "network_cidr": "10.42.0.0/16",
        "hostname": "a.example.com",
        "aws_account_id": "210987654321",
    }
)


def entry_point() -> None:
    runpy.run_path(str(ROOT / "infra"), run_name="__main__")


def run_entry_point(config: dict[str, object]) -> list[str]:
    fakers, invokes = mock_outputs()
    result = run_program(
        entry_point,
        project="enclave",
        stack="acme",
        config=config,
        fakers=fakers,
        invokes=invokes,
    )
    return [r.type for r in result.resources]


def test_program_reads_the_spec_from_stack_config() -> None:
    types = run_entry_point(placeholder_config(SPEC))
    assert types.count("enclave:index:TenantStack") == 1
    assert "aws:eks/cluster:Cluster" in types and "kubernetes:apps/v1:Deployment" in types


def test_program_refuses_a_stack_that_names_no_account() -> None:
    """A real run pins the stack to its account; without one the program stops before creating anything."""
    unnamed = SPEC.model_dump(mode="json") | {"aws_account_id": None}
    with pytest.raises(SpecConfigError, match="names no AWS account: set aws_account_id"):
        run_entry_point(placeholder_config(SPEC) | {"enclave:tenant": unnamed})


def test_the_program_carries_the_stacks_account_and_region_into_computed_outputs() -> None:
    fakers, invokes = mock_outputs()
    result = run_program(
        entry_point,
        project="enclave",
        stack="acme",
        config=placeholder_config(SPEC),
        fakers=fakers,
        invokes=invokes,
        place=mock_place(SPEC),
    )
    arns = [str(r.outputs.get("arn", "")) for r in result.resources if r.type.startswith("aws:")]
    regional = [arn for arn in arns if arn.startswith("arn:aws:") and arn.split(":")[3]]
    assert regional
    assert all(arn.split(":")[3] == "eu-west-1" and arn.split(":")[4] == "210987654321" for arn in regional)


def test_program_refuses_missing_or_invalid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = placeholder_config(SPEC) | {"enclave:tenant": SPEC.model_dump(mode="json") | {"region": "mars-1"}}
    with pytest.raises(SpecConfigError, match="enclave:tenant is invalid"):
        run_entry_point(bad)
    # Stack config is process-global under the mocks, so "missing" is simulated at the reader.
    monkeypatch.setattr(pulumi.Config, "get_object", lambda self, key: None)
    with pytest.raises(SpecConfigError, match="enclave:tenant is missing"):
        spec_from_config()


def test_policy_pack_starts_when_run_by_path() -> None:
    """The policy host runs the pack folder with runpy; it must import and start serving (prints a port)."""
    pack = subprocess.Popen(
        [sys.executable, "-c", "import runpy; runpy.run_path('.', run_name='__main__')"],
        cwd=ROOT / "infra" / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.stderr else port
    finally:
        pack.kill()
        pack.wait(timeout=10)
