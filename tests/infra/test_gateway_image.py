"""The repository's Dockerfile builds the image infra/workload.py deploys: same command, port, user, read-only
root and environment. (No container engine runs here, so the image is checked as text, not built.)"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from fake_cloud import PASSWORDS, FakeCloud

from infra.mockrun import run_program
from infra.spec import TenantSpec
from infra.tenant import TenantStack
from infra.workload import CONTAINER_PORT, GATEWAY_COMMAND, GATEWAY_ENV, RUN_AS_USER, WRITABLE_DIR

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage(text: str) -> list[tuple[str, str]]:
    steps = instructions(text)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def exec_form(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    (value,) = [rest for k, rest in stage if k == keyword]
    parsed: list[str] = json.loads(value)  # exec form: no shell between the runtime and the process
    return parsed


def is_pinned(image: str) -> bool:
    """An exact patch-level tag (`3.11.11-slim-bookworm`) or a content digest; never `latest` or `3.11`."""
    digest = re.search(r"@sha256:[0-9a-f]{64}$", image) is not None
    exact_tag = re.search(r":\d+\.\d+\.\d+[\w.-]*(@|$)", image) is not None
    return digest or exact_tag


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def container() -> dict[str, Any]:
    spec = TenantSpec.model_validate(
        {"name": "acme", "cloud": "aws", "region": "eu-west-1", "network_cidr": "10.42.0.0/16", "hostname": "a.b.io"}
    )
    result = run_program(lambda: TenantStack(spec, FakeCloud()), project="enclave", stack="acme", config=PASSWORDS)
    (deployment,) = result.of_type("kubernetes:apps/v1:Deployment")
    (gateway,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return dict(gateway)


def test_the_image_runs_the_command_the_workload_runs(dockerfile: str, container: dict[str, Any]) -> None:
    stage = final_stage(dockerfile)
    assert exec_form(stage, "ENTRYPOINT") + exec_form(stage, "CMD") == list(GATEWAY_COMMAND)
    assert container["command"] == list(GATEWAY_COMMAND)


def test_the_image_listens_where_the_workload_sends_traffic(dockerfile: str, container: dict[str, Any]) -> None:
    stage = final_stage(dockerfile)
    assert [rest for k, rest in stage if k == "EXPOSE"] == [str(CONTAINER_PORT)]
    assert [p["containerPort"] for p in container["ports"]] == [CONTAINER_PORT]
    env = env_of(stage)
    assert env["ENCLAVE_PORT"] == str(CONTAINER_PORT)
    assert env["ENCLAVE_HOST"] == "0.0.0.0"  # the settings default (loopback) is unreachable from a Service


def test_the_image_user_is_the_workloads_non_root_user(dockerfile: str, container: dict[str, Any]) -> None:
    users = [rest for k, rest in final_stage(dockerfile) if k == "USER"]
    assert users == [f"{RUN_AS_USER}:{RUN_AS_USER}"]  # numeric, so runAsNonRoot can verify it
    assert container["securityContext"]["runAsUser"] == RUN_AS_USER
    assert container["securityContext"]["runAsNonRoot"] is True


def test_the_image_writes_only_where_the_read_only_pod_can(dockerfile: str, container: dict[str, Any]) -> None:
    env = env_of(final_stage(dockerfile))
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert WRITABLE_DIR in {m["mountPath"] for m in container["volumeMounts"]}
    assert env["ENCLAVE_DATA_DIR"].startswith(f"{WRITABLE_DIR}/")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_workload_sets_the_same_environment_as_the_image(dockerfile: str, container: dict[str, Any]) -> None:
    image_env = {k: v for k, v in env_of(final_stage(dockerfile)).items() if k.startswith("ENCLAVE_")}
    pod_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert image_env == GATEWAY_ENV
    assert {k: pod_env[k] for k in image_env} == image_env


def test_the_base_image_is_pinned_and_the_lock_is_installed_with_hashes(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    for image in [rest.split()[0] for k, rest in steps if k == "FROM"]:
        assert is_pinned(image), f"{image} is not pinned"
    runs = " ".join(rest for k, rest in steps if k == "RUN")
    assert "--require-hashes" in runs
    assert "-r /tmp/requirements.lock" in runs
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert dockerignore[1] == "*"  # everything is excluded unless listed (no stack files, no .venv)


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python:latest", False),
        ("python:3.11-slim", False),
        ("python", False),
        ("python:3.11.11-slim-bookworm", True),
        ("python:3.11-slim@sha256:" + "a" * 64, True),
        ("python@sha256:abc", False),
    ],
)
def test_only_exact_tags_or_digests_count_as_pinned(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned
