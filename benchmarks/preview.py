"""Offline preview speed: seconds per tenant per cloud (cold = first run in a fresh process, with imports;
warm = later runs), then a fleet of 20 tenants previewed by the command operators run,
`enclave stack preview --all --json --workers N --dir DIR`, at 1 and 2 workers (wall clock of the whole
command, start-up included), beside the previous design (every stack in a freshly spawned worker pool) at 2.
Prints results; asserts nothing. Run from the repository root: .venv/bin/python -m benchmarks.preview
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from ipaddress import IPv4Network
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from infra.cidr import allocate
from infra.spec import TenantSpec
from infra.stack_config import write_stack

CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"region": "eu-west-1"},
    "gcp": {"region": "europe-west1", "gcp_project": "bench-project-1"},
    "azure": {"region": "westeurope"},
}
WARM_RUNS = 3
FLEET = 20


def spec_for(cloud: str, name: str, cidr: str) -> TenantSpec:
    return TenantSpec.model_validate(
        {"name": name, "cloud": cloud, "network_cidr": cidr, "hostname": f"{name}.example.com"} | CLOUDS[cloud]
    )


def time_cloud(cloud: str) -> tuple[str, float, float, str]:
    """In a fresh process: the first preview (imports included), then the mean of later ones."""
    from infra.preview import preview_spec

    spec = spec_for(cloud, "bench", "10.42.0.0/16")
    try:
        started = time.perf_counter()
        preview_spec(spec)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(WARM_RUNS):
            preview_spec(spec)
        return cloud, cold, (time.perf_counter() - started) / WARM_RUNS, ""
    except Exception as exc:  # report and carry on with the other clouds
        return cloud, 0.0, 0.0, f"{type(exc).__name__}: {str(exc)[:120]}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fleet_command(directory: Path, workers: int) -> tuple[float, float, int]:
    """`enclave stack preview --all` in a new process: wall clock, CPU seconds of it and its workers (the work
    done, whatever else the machine runs), and how many stacks failed to preview."""
    command = [str(Path(sys.executable).with_name("enclave")), "stack", "preview", "--all", "--json"]
    command += ["--workers", str(workers), "--dir", str(directory)]
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    stacks = json.loads(done.stdout)["stacks"]
    return seconds, cpu, sum(1 for r in stacks if "error" in r)


def share_cpu_seconds(directory: Path, workers: int) -> list[float]:
    """CPU seconds of each worker's share, as `enclave stack preview --all` splits the fleet (infra/preview.py
    `fleet_shares`), each measured alone: on a machine with `workers` idle cores the command's wall clock is
    about the largest of these, whatever else shares the machine while this runs."""
    from infra.preview import fleet_shares
    from infra.stack_config import read_stack, stack_paths

    stacks = [(read_stack(path).cloud.value, path) for path in stack_paths(directory)]
    seconds = []
    for share in fleet_shares(stacks, workers):
        with tempfile.TemporaryDirectory() as folder:
            for path in share:
                shutil.copy(path, folder)
            seconds.append(fleet_command(Path(folder), 1)[1])
    return seconds


def spawned_pool_seconds(directory: Path, workers: int) -> tuple[float, int]:
    """The previous fleet design, for comparison: every stack in a pool of freshly spawned workers, each of
    which imports the SDKs again."""
    from infra.preview import preview_path
    from infra.stack_config import stack_paths

    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(preview_path, stack_paths(directory)))
    return time.perf_counter() - started, sum(1 for r in results if "error" in r)


def main() -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("offline preview, seconds per tenant")
    print(f"{'cloud':8} {'cold':>8} {'warm':>8}")
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        for cloud, cold, warm, error in pool.map(time_cloud, CLOUDS):
            print(f"{cloud:8} {cold:8.2f} {warm:8.2f} {error}")

    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        used: list[IPv4Network] = []
        for i in range(FLEET):
            cidr = allocate(used)
            used.append(cidr)
            write_stack(directory, spec_for(list(CLOUDS)[i % len(CLOUDS)], f"tenant{i:02d}", str(cidr)))
        print(f"\nfleet preview of {FLEET} tenants: enclave stack preview --all --json --workers N --dir DIR")
        one, one_cpu, errors = fleet_command(directory, 1)
        print(f"1 worker : {one:7.1f} s wall, {one_cpu:6.1f} s CPU  ({errors} failed)")
        two, two_cpu, errors = fleet_command(directory, 2)
        print(f"2 workers: {two:7.1f} s wall, {two_cpu:6.1f} s CPU  ({errors} failed)")
        print(f"speed-up : {one / two:7.2f}x")
        shares = share_cpu_seconds(directory, 2)
        print(f"2 workers' shares alone: {', '.join(f'{c:.1f}' for c in shares)} s CPU", end="")
        print(f" -> on 2 idle cores about {max(shares):.1f} s, {one_cpu / max(shares):.2f}x the 1-worker CPU")
        spawned, errors = spawned_pool_seconds(directory, 2)
        print(f"previous design (spawned pool), 2 workers: {spawned:7.1f} s  ({errors} failed)")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
