"""Stack files: round trip, refusal to overwrite, secrets only as instructions, used CIDRs."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest
import yaml

from infra.spec import TenantSpec
from infra.stack_config import (
    StackFileError,
    new_external_id,
    read_stack,
    stack_paths,
    used_cidrs,
    write_stack,
)


def make_spec(name: str = "acme", cidr: str = "10.42.0.0/16", **extra: object) -> TenantSpec:
    return TenantSpec.model_validate(
        {
            "name": name,
            "cloud": "aws",
            "region": "eu-west-1",
            "network_cidr": cidr,
            "hostname": f"{name}.example.com",
            **extra,
        }
    )


def test_round_trip(tmp_path: Path) -> None:
    spec = make_spec(connectivity={"allowed_cidrs": ["203.0.113.0/24"]}, sso={"client_id": "abc"})
    path = write_stack(tmp_path, spec)
    assert path.name == "Pulumi.acme.yaml"
    assert read_stack(path) == spec
    document = yaml.safe_load(path.read_text())
    assert document["config"]["enclave:tenant"]["network_cidr"] == "10.42.0.0/16"


def test_file_tells_which_secrets_to_set_and_holds_none(tmp_path: Path) -> None:
    text = write_stack(tmp_path, make_spec(sso={"client_id": "abc"})).read_text()
    for key in ("databasePassword", "cacheAuthToken", "ssoClientSecret"):
        assert f"pulumi config set --secret -s acme enclave:{key}" in text
    assert "secure:" not in text
    without_sso = write_stack(tmp_path, make_spec("beta", "10.43.0.0/16")).read_text()
    assert "ssoClientSecret" not in without_sso
    gcp = TenantSpec.model_validate(
        make_spec("gamma", "10.44.0.0/16").model_dump()
        | {"cloud": "gcp", "region": "us-central1", "gcp_project": "gamma-1"}
    )
    gcp_text = write_stack(tmp_path, gcp).read_text()
    assert "enclave:databasePassword" in gcp_text and "cacheAuthToken" not in gcp_text  # Memorystore makes its own


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    write_stack(tmp_path, make_spec())
    with pytest.raises(StackFileError, match="already exists; pass --force"):
        write_stack(tmp_path, make_spec(size="large"))
    write_stack(tmp_path, make_spec(size="large"), force=True)
    assert read_stack(tmp_path / "Pulumi.acme.yaml").size == "large"


def test_used_cidrs_reads_tenant_stacks_only(tmp_path: Path) -> None:
    write_stack(tmp_path, make_spec("acme", "10.42.0.0/16"))
    write_stack(tmp_path, make_spec("beta", "10.43.0.0/16"))
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    assert sorted(used_cidrs(tmp_path)) == [IPv4Network("10.42.0.0/16"), IPv4Network("10.43.0.0/16")]
    assert used_cidrs(tmp_path, exclude="acme") == [IPv4Network("10.43.0.0/16")]
    assert [p.name for p in stack_paths(tmp_path)] == ["Pulumi.acme.yaml", "Pulumi.beta.yaml", "Pulumi.dev.yaml"]


def test_broken_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StackFileError, match="no stack file"):
        read_stack(tmp_path / "Pulumi.nope.yaml")
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  enclave:tenant:\n    name: bad\n    network_cidr: nonsense\n")
    with pytest.raises(StackFileError, match="invalid tenant spec"):
        read_stack(bad)
    with pytest.raises(StackFileError, match="network_cidr is missing or invalid"):
        used_cidrs(tmp_path)
    other = tmp_path / "Pulumi.other.yaml"
    other.write_text("config: {}\n")
    with pytest.raises(StackFileError, match="not an Enclave tenant stack"):
        read_stack(other)


def test_external_ids_are_unguessable() -> None:
    ids = {new_external_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
