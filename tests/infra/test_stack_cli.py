"""`enclave stack init | list | preview` through Typer's test runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli import stack_app
from infra.stack_config import next_steps, read_stack

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(stack_app, list(args))
    return result.exit_code, result.output


def init(tmp_path: Path, name: str, *args: str) -> tuple[int, str]:
    return invoke("init", "--tenant", name, "--dir", str(tmp_path), *args)


def test_init_writes_a_valid_stack_file(tmp_path: Path) -> None:
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--allow", "203.0.113.0/24")
    assert code == 0, output
    spec = read_stack(tmp_path / "Pulumi.acme.yaml")
    assert str(spec.network_cidr) == "10.1.0.0/16"
    assert [str(c) for c in spec.connectivity.allowed_cidrs] == ["203.0.113.0/24"]
    assert spec.deletion_protection and spec.hostname == "acme.enclave.example.com"
    assert (
        "printf '%s' \"$ENCLAVE_DATABASE_PASSWORD\" | pulumi config set --secret -s acme enclave:databasePassword"
        in output
    )


def test_two_tenants_get_disjoint_networks(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    assert init(tmp_path, "globex", "--cloud", "azure", "--region", "westeurope")[0] == 0
    a, b = (read_stack(tmp_path / f"Pulumi.{n}.yaml").network_cidr for n in ("acme", "globex"))
    assert not a.overlaps(b)


def test_explicit_overlapping_cidr_is_refused(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--cidr", "10.9.0.0/16")[0] == 0
    code, output = init(tmp_path, "beta", "--cloud", "aws", "--region", "eu-west-1", "--cidr", "10.9.128.0/20")
    assert code == 1 and "--cidr: 10.9.128.0/20 overlaps 10.9.0.0/16" in output  # refused: another stack has it
    assert not (tmp_path / "Pulumi.beta.yaml").exists()
    code, output = init(tmp_path, "beta", "--cloud", "aws", "--region", "eu-west-1", "--cidr", "10.9.0/16x")
    assert code == 2 and "--cidr: '10.9.0/16x' is not an IPv4 network" in output  # a bad value: usage


def test_invalid_input_names_the_option(tmp_path: Path) -> None:
    code, output = init(tmp_path, "Bad_Name", "--cloud", "aws", "--region", "eu-west-1")
    assert code == 2 and "--tenant" in output and "'Bad_Name' is not a valid tenant name" in output
    code, output = init(tmp_path, "admin", "--cloud", "aws", "--region", "eu-west-1", "--hostname", "no host")
    assert code == 2
    assert "--tenant: tenant name 'admin' is reserved" in output
    assert "--hostname: 'no host' is not valid (expected ^([a-z0-9]" in output
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "mars-1")
    assert code == 2
    assert "region 'mars-1' is not supported on aws; choose one of: " in output
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--allow", "0.0.0.0/33")
    assert code == 2 and "--allow: " in output and "connectivity" not in output
    code, output = init(tmp_path, "acme", "--cloud", "gcp", "--region", "europe-west1")
    assert code == 2 and "--gcp-project is required for a GCP tenant" in output
    assert "Traceback" not in output
    assert not list(tmp_path.iterdir())


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1")[0] == 0
    code, output = init(tmp_path, "acme", "--cloud", "aws", "--region", "us-east-1")
    assert code == 1 and "--force" in output  # refused
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
    code, output = invoke("list", "--json", "--dir", str(tmp_path))
    assert code == 0, output
    acme, broken = json.loads(output)["stacks"]
    assert acme == {
        "tenant": "acme",
        "file": str(tmp_path / "Pulumi.acme.yaml"),
        "cloud": "aws",
        "region": "eu-west-1",
        "size": "small",
        "network": "10.1.0.0/16",
        "hostname": "acme.enclave.example.com",
    }
    assert broken["tenant"] == "broken" and "invalid tenant spec" in broken["error"]
    code, output = invoke("list", "--dir", str(tmp_path / "nowhere"))
    assert code == 2 and "--dir" in output


def test_preview_needs_a_tenant_or_all(tmp_path: Path) -> None:
    assert invoke("preview", "--dir", str(tmp_path))[0] == 2
    assert invoke("preview", "--tenant", "acme", "--all", "--dir", str(tmp_path))[0] == 2
    code, output = invoke("preview", "--tenant", "../etc", "--dir", str(tmp_path))
    assert code == 2 and "not a valid tenant name" in output
    code, output = invoke("preview", "--tenant", "ghost", "--dir", str(tmp_path))
    assert code == 1 and "no stack file" in output  # not found
    code, output = invoke("preview", "--all", "--dir", str(tmp_path))
    assert code == 1 and "no Pulumi.*.yaml stack files" in output
    assert "Traceback" not in output


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
    code, output = invoke("preview", "--tenant", "acme", "--json", "--dir", str(tmp_path))
    assert code == 0, output
    report = json.loads(output)
    assert report["passed"] and report["policy"]["violations"] == 0
    code, output = invoke("preview", "--tenant", "acme", "--dir", str(tmp_path))
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
    code, output = invoke("preview", "--tenant", "acme", "--json", "--dir", str(tmp_path))
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
    code, output = invoke("preview", "--tenant", "acme", "--dir", str(tmp_path))
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
    code, output = invoke("preview", "--tenant", "acme", "--json", "--dir", str(tmp_path))
    assert code == 0, output
    listed = json.loads(output)["resources"]
    urns = {r["urn"] for r in listed}
    (policy,) = [r for r in listed if r["type"] == "aws:kms/keyPolicy:KeyPolicy"]
    (key,) = [r for r in listed if r["type"] == "aws:kms/key:Key"]
    assert policy["propertyDependencies"]["keyId"] == [key["urn"]]
    assert key["urn"] in policy["dependencies"]
    assert all(set(r["dependencies"]) <= urns for r in listed)


def test_init_prints_the_next_steps_and_what_is_left_to_the_operator(tmp_path: Path) -> None:
    result = runner.invoke(
        stack_app, ["init", "--tenant", "acme", "--cloud", "aws", "--region", "eu-west-1", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    spec = read_stack(tmp_path / "Pulumi.acme.yaml")
    printed = result.stdout.split("next steps (docs/tenant-stack.md):\n", 1)[1].splitlines()
    assert [line.strip() for line in printed] == next_steps(spec)
    header = [
        line.removeprefix("#   ")
        for line in (tmp_path / "Pulumi.acme.yaml").read_text().splitlines()
        if line.startswith("#   ")
    ]
    assert header == next_steps(spec)
    assert "the Kubernetes API is private and no operator CIDR is set" in result.stderr
    assert "warning" not in result.stdout
    code, output = init(tmp_path, "beta", "--cloud", "aws", "--region", "eu-west-1", "--operator-cidr", "10.8.0.0/24")
    assert code == 0 and "no operator CIDR" not in output


def test_no_secret_value_in_the_next_steps(tmp_path: Path) -> None:
    args = ["--cloud", "aws", "--region", "eu-west-1", "--sso-issuer", "https://idp.example.com"]
    code, output = init(tmp_path, "acme", *args, "--sso-client-id", "cid", "--egress-cidr", "198.51.100.0/24")
    assert code == 0, output
    steps = next_steps(read_stack(tmp_path / "Pulumi.acme.yaml"))
    assert steps[:2] == ["pulumi login", "pulumi stack init acme"]  # the stack exists before its config is set
    secrets = [step for step in steps if "--secret" in step]
    assert len(secrets) == 5  # database password, audit and secrets keys, cache AUTH token, SSO client secret
    for step in secrets:
        # The value comes from a pipe or a file, never as an argument after the key.
        assert re.search(r"pulumi config set --secret -s acme enclave:\w+( < \S+)?$", step), step
    assert "enclave audit keygen | pulumi config set --secret -s acme enclave:auditSigningKey" in steps
    assert "enclave secrets keygen | pulumi config set --secret -s acme enclave:secretsKey" in steps


@pytest.mark.parametrize("command", [[], ["init"], ["preview"], ["list"]])
def test_help_shows_real_placeholders(command: list[str]) -> None:
    result = runner.invoke(stack_app, [*command, "--help"])
    assert result.exit_code == 0
    assert not re.search(r"<[a-z]", result.output), result.output


def test_preview_reports_progress_on_stderr_only(tmp_path: Path) -> None:
    assert init(tmp_path, "acme", "--cloud", "aws", "--region", "eu-west-1", "--operator-cidr", "10.8.0.0/24")[0] == 0
    from infra import preview as offline

    stages: list[str] = []
    offline.preview_spec(read_stack(tmp_path / "Pulumi.acme.yaml"), progress=stages.append)
    assert stages[0].startswith("loading the AWS SDK") and stages[-1] == "pricing them in eu-west-1"
    result = runner.invoke(stack_app, ["preview", "--tenant", "acme", "--json", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tenant"] == "acme"
