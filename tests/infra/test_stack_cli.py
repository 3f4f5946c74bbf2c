"""`enclave stack init | list | preview` through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli import stack_app
from infra.stack_config import read_stack

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(stack_app, list(args))
    return result.exit_code, result.output


def init(tmp_path: Path, name: str, *args: str) -> tuple[int, str]:
    return invoke("init", name, "--dir", str(tmp_path), *args)


def test_init_writes_a_valid_stack_file(tmp_path: Path) -> None:
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--allow", "203.0.113.0/24")
    assert code == 0, output
    spec = read_stack(tmp_path / "Pulumi.acme.yaml")
    assert str(spec.network_cidr) == "10.1.0.0/16"
    assert [str(c) for c in spec.connectivity.allowed_cidrs] == ["203.0.113.0/24"]
    assert spec.deletion_protection and spec.hostname == "acme.enclave.example.com"
    assert "pulumi config set --secret -s acme enclave:databasePassword" in output


def test_two_tenants_get_disjoint_networks(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    assert init(tmp_path, "globex", "--cloud", "azure", "--region", "westeurope")[0] == 0
    a, b = (read_stack(tmp_path / f"Pulumi.{n}.yaml").network_cidr for n in ("acme", "globex"))
    assert not a.overlaps(b)


def test_explicit_overlapping_cidr_is_bad_input(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--cidr", "10.9.0.0/16")[0] == 0
    code, output = init(tmp_path, "beta", "--cloud", "aws", "--region", "eu-west-1", "--cidr", "10.9.128.0/20")
    assert code == 2 and "overlaps 10.9.0.0/16" in output
    assert not (tmp_path / "Pulumi.beta.yaml").exists()


def test_invalid_spec_is_reported_per_field(tmp_path: Path) -> None:
    code, output = init(tmp_path, "Bad_Name", "--cloud", "aws", "--region", "eu-west-1", "--hostname", "no host")
    assert code == 2
    assert "name: 'Bad_Name' is not a valid tenant name" in output
    assert "hostname: 'no host' is not valid (expected ^([a-z0-9]" in output
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "mars-1")
    assert code == 2
    assert "region 'mars-1' is not supported on aws; choose one of: " in output
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--allow", "0.0.0.0/33")
    assert code == 2 and "connectivity.allowed_cidrs.0" in output
    assert not list(tmp_path.iterdir())


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "us-east-1")
    assert code == 2 and "--force" in output
    code, _ = init(tmp_path, "acme", "--cloud", "aws", "--region", "us-east-1", "--force")
    assert code == 0
    spec = read_stack(tmp_path / "Pulumi.acme.yaml")
    assert spec.region == "us-east-1" and str(spec.network_cidr) == "10.1.0.0/16"


def test_aws_byob_gets_an_external_id_kept_across_force(tmp_path: Path) -> None:
    args = ["--cloud", "aws", "--region", "eu-west-1", "--storage", "byob", "--bucket", "acme-data"]
    assert init(tmp_path, "acme", *args, "--customer-account", "123456789012")[0] == 0
    first = read_stack(tmp_path / "Pulumi.acme.yaml").storage.external_id
    assert first and len(first) == 32
    assert init(tmp_path, "acme", *args, "--customer-account", "123456789012", "--force")[0] == 0
    assert read_stack(tmp_path / "Pulumi.acme.yaml").storage.external_id == first


def test_gcp_private_link_sso_and_no_deletion_protection(tmp_path: Path) -> None:
    code, output = init(
        tmp_path,
        "initech",
        *("--cloud", "gcp", "--region", "europe-west1", "--gcp-project", "initech-prod-1", "--size", "medium"),
        *("--private-link-consumer", "consumer-project", "--no-deletion-protection"),
        *("--sso-provider", "google", "--sso-issuer", "https://accounts.google.com", "--sso-client-id", "cid"),
        *("--image", "registry.example.com/enclave/gateway:1.2.3", "--hostname", "initech.example.org"),
    )
    assert code == 0, output
    document = yaml.safe_load((tmp_path / "Pulumi.initech.yaml").read_text())
    spec = document["config"]["enclave:tenant"]
    assert spec["connectivity"]["private_link"] is True
    assert spec["connectivity"]["private_link_consumers"] == ["consumer-project"]
    assert spec["deletion_protection"] is False and spec["size"] == "medium"
    assert spec["gateway_image"] == "registry.example.com/enclave/gateway:1.2.3"
    assert "enclave:ssoClientSecret" in output


def test_list_shows_stacks(tmp_path: Path) -> None:
    init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  enclave:tenant:\n    name: 1\n")
    code, output = invoke("list", "--dir", str(tmp_path))
    assert code == 0 and "acme" in output and "eu-west-1" in output and "broken" in output


def test_preview_needs_a_name_or_all(tmp_path: Path) -> None:
    assert invoke("preview", "--dir", str(tmp_path))[0] == 2
    assert invoke("preview", "acme", "--all", "--dir", str(tmp_path))[0] == 2
    code, output = invoke("preview", "ghost", "--dir", str(tmp_path))
    assert code == 2 and "no stack file" in output


@pytest.mark.parametrize(
    ("cloud", "args"),
    [
        ("aws", ["--region", "eu-west-1"]),
        ("gcp", ["--region", "europe-west1", "--gcp-project", "acme-project-1"]),
        ("azure", ["--region", "westeurope"]),
    ],
)
def test_init_then_preview_passes_on_defaults(tmp_path: Path, cloud: str, args: list[str]) -> None:
    assert init(tmp_path, "acme", "--cloud", cloud, *args)[0] == 0
    code, output = invoke("preview", "acme", "--json", "--dir", str(tmp_path))
    assert code == 0, output
    report = json.loads(output)
    assert report["passed"] and report["policy"]["violations"] == 0
    code, output = invoke("preview", "acme", "--dir", str(tmp_path))
    assert code == 0 and "no policy violations" in output


def test_preview_of_a_violating_stack_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_cloud import FakeCloud

    import infra.program
    from infra.policy import engine

    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    # The same program and engine, on a cloud whose resources break the rules: a public database and
    # a tenant tag naming someone else.
    monkeypatch.setattr(infra.program, "load_cloud", lambda cloud: FakeCloud(True, {"enclave-tenant": "x"}))
    monkeypatch.setattr(engine, "RULE_MODULES", {**engine.RULE_MODULES, "fake": "fake_cloud"})
    code, output = invoke("preview", "acme", "--json", "--dir", str(tmp_path))
    assert code == 1
    report = json.loads(output)
    assert not report["passed"]
    broken = {r["rule"] for r in report["policy"]["rules"] if not r["passed"]}
    assert broken == {
        "no-public-data-services",
        "nothing-shared-with-another-tenant",
        "tenant-tag-on-taggable-resources",
    }


def test_a_failing_program_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.program

    class BrokenCloud:
        def build(self, ctx: object) -> object:
            raise RuntimeError("the cloud module could not build the network")

    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    monkeypatch.setattr(infra.program, "load_cloud", lambda cloud: BrokenCloud())
    code, output = invoke("preview", "acme", "--dir", str(tmp_path))
    assert code == 1
    assert "the preview of acme failed: " in output and "could not build the network" in output
    assert "Traceback" not in output


def test_preview_all_summarises_the_fleet(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  enclave:tenant:\n    name: broken\n")
    code, output = invoke("preview", "--all", "--workers", "2", "--dir", str(tmp_path))
    assert code == 1  # one stack cannot even be read
    assert "Fleet preview" in output and "acme" in output and "broken" in output and "invalid tenant spec" in output
    (tmp_path / "Pulumi.broken.yaml").unlink()
    code, output = invoke("preview", "--all", "--json", "--workers", "1", "--dir", str(tmp_path))
    assert code == 0, output
    (stack,) = json.loads(output)["stacks"]
    assert stack["tenant"] == "acme" and stack["passed"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("preview", "--all", "--dir", str(empty))[0] == 2


def test_init_records_the_account_zone_and_operator_networks(tmp_path: Path) -> None:
    code, output = init(
        tmp_path,
        "acme",
        *("--cloud", "aws", "--region", "eu-west-1", "--aws-account-id", "210987654321"),
        *("--route53-zone-id", "Z0123456789ABC", "--operator-cidr", "10.8.0.0/24", "--operator-cidr", "10.9.0.0/24"),
    )
    assert code == 0, output
    spec = read_stack(tmp_path / "Pulumi.acme.yaml")
    assert (spec.account, spec.route53_zone_id) == ("210987654321", "Z0123456789ABC")
    assert [str(c) for c in spec.operator_cidrs] == ["10.8.0.0/24", "10.9.0.0/24"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--operator-cidr", "198.51.100.0/24"], "are public"),
        (["--aws-account-id", "1234"], "12 digits"),
        (["--azure-subscription-id", "5f0b3c1e-8d2a-4e6f-9b7c-1a2b3c4d5e6f"], "only for Azure"),
    ],
)
def test_init_refuses_bad_account_or_operator_networks(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", *args)
    assert code == 2 and message in output
    assert not (tmp_path / "Pulumi.acme.yaml").exists()


def test_preview_json_carries_each_resources_dependencies(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    code, output = invoke("preview", "acme", "--json", "--dir", str(tmp_path))
    assert code == 0, output
    listed = json.loads(output)["resources"]
    urns = {r["urn"] for r in listed}
    (policy,) = [r for r in listed if r["type"] == "aws:kms/keyPolicy:KeyPolicy"]
    (key,) = [r for r in listed if r["type"] == "aws:kms/key:Key"]
    assert policy["propertyDependencies"]["keyId"] == [key["urn"]]
    assert key["urn"] in policy["dependencies"]
    assert all(set(r["dependencies"]) <= urns for r in listed)
