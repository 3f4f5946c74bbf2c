"""BYOB kit synthesis time per cloud, each in a fresh process as a user meets it: the generator alone
(import the cloud's terraform-cdk provider bindings + synthesize), and `enclave byob synth` end to end (Python
start-up, option checks, generator, files). The baseline, measured in the same run, is a fresh process that
imports terraform-cdk's core library only: the ratio shows what the prebuilt provider bindings cost. The CLI
runs twice on an empty kit cache: first synthesizing, then reusing the kit (the generator is unchanged). Prints
results; asserts nothing. Run from the repository root: .venv/bin/python -m benchmarks.byob
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 2
CLI = {
    "aws": ["--platform-identity", "arn:aws:iam::111122223333:role/gw", "--region", "eu-west-1"],
    "gcp": [
        "--platform-identity",
        "gateway@enclave-prod.iam.gserviceaccount.com",
        "--region",
        "europe-west1",
        "--project",
        "acme-data-1",
    ],
    "azure": ["--platform-identity", "0f0e0d0c-0b0a-0908-0706-050403020100", "--resource-group", "acme"],
}
ENV = {"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}


def seconds(command: list[str], cache: str | None = None) -> float:
    env = {**os.environ, **ENV, **({"ENCLAVE_BYOB_CACHE": cache} if cache else {})}
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=600)
    return time.monotonic() - started


def median(command: list[str]) -> float:
    return statistics.median(seconds(command) for _ in range(RUNS))


def main() -> None:
    python = sys.executable
    baseline = median([python, "-c", "import cdktf"])
    print(f"baseline: fresh process importing terraform-cdk core: {baseline:.1f} s (median of {RUNS})")
    print(f"{'cloud':6} {'generator s':>12} {'x baseline':>11} {'CLI, first s':>13} {'CLI, cached s':>14}")
    enclave = str(Path(python).with_name("enclave"))
    for cloud, options in CLI.items():
        generator = median(
            [python, "-c", f"from infra.byob.synth import KitCloud, build_kit; build_kit(KitCloud('{cloud}'))"]
        )
        with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cache:
            command = [enclave, "byob", "synth", "--cloud", cloud, "--tenant", "acme"]
            command += ["--gateway-url", "https://acme.example.com", "--out", out, "--force", *options]
            first = seconds(command, cache)
            cached = seconds(command, cache)
        print(f"{cloud:6} {generator:12.1f} {generator / baseline:11.1f} {first:13.1f} {cached:14.1f}", flush=True)


if __name__ == "__main__":
    main()
