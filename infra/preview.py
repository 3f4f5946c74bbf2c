"""Offline preview: run the real tenant program (infra/program.py) under Pulumi's mocks, then report the
resource tree, the policy verdicts and the estimated monthly cost. No Pulumi CLI, plugins or credentials.

Secrets are replaced by placeholders (the real ones live encrypted in the stack, never here), and secret
inputs are redacted before anything reads them. Pulumi's runtime state is process-global, so one process runs
one program at a time; a fleet preview runs them one after another, or in warm worker processes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.tree import Tree

from infra.cloud import CloudModule
from infra.clouds import registrations
from infra.mockrun import MockedResource, MockPlace, OutputFaker, run_program
from infra.policy import engine
from infra.policy.model import RULE_DESCRIPTIONS, Rule, Violation
from infra.pricing import CostReport, PricedResource, estimate
from infra.program import deploy
from infra.pulumi_internals import release_threads
from infra.regions import region_warnings
from infra.spec import TenantSpec
from infra.spec_warnings import spec_warnings
from infra.stack_config import (
    TENANT_KEY,
    StackFileError,
    read_stack,
    required_secrets,
    stack_name,
    stack_paths,
)

PROJECT = "enclave"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's marker for a secret value, not a secret
REDACTED = "[secret]"
PLACEHOLDER_SECRET = "offline-preview-placeholder"  # noqa: S105 - stands in for secrets the preview never has


def mock_outputs() -> tuple[dict[str, OutputFaker], dict[str, OutputFaker]]:
    """Every registered cloud's FAKERS and INVOKES (computed outputs a real provider would return), merged."""
    fakers: dict[str, OutputFaker] = {}
    invokes: dict[str, OutputFaker] = {}
    for registration in registrations():
        cloud_fakers, cloud_invokes = registration.mock_outputs()
        fakers.update(cloud_fakers)
        invokes.update(cloud_invokes)
    return fakers, invokes


def mock_place(spec: TenantSpec) -> MockPlace:
    """The stack's region and account for faked outputs (a stand-in account when the spec names none)."""
    return MockPlace(account=spec.account or spec.cloud_registration.mock_account, region=spec.region)


def placeholder_config(spec: TenantSpec) -> dict[str, Any]:
    # One value valid for every cloud's rules (length, characters); never a real credential.
    secrets = {f"enclave:{key}": PLACEHOLDER_SECRET for key in required_secrets(spec)}
    return {TENANT_KEY: spec.model_dump(mode="json"), **secrets}


def redact(value: Any) -> Any:
    """Inputs with every secret value replaced, so no check, message or report can carry one."""
    if isinstance(value, Mapping):
        if SECRET_SIG in value:
            return REDACTED
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True)
class PreviewReport:
    spec: TenantSpec
    resources: tuple[MockedResource, ...]
    violations: tuple[Violation, ...]
    cost: CostReport
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.violations


StageReporter = Callable[[str], None]


def preview_spec(
    spec: TenantSpec,
    cloud: CloudModule | None = None,
    book: engine.RuleBook | None = None,
    progress: StageReporter | None = None,
) -> PreviewReport:
    """Run the stack's program offline and evaluate it. `cloud`/`book` replace the real cloud (tests);
    `progress` hears each stage as it starts (the CLI shows it)."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    say(f"loading the {spec.cloud_registration.title} SDK")
    fakers, invokes = ({}, {}) if cloud is not None else mock_outputs()
    say(f"running {spec.name}'s program under Pulumi's mocks")
    try:
        run = run_program(
            lambda: deploy(spec, cloud, offline=True),
            project=PROJECT,
            stack=spec.name,
            config=placeholder_config(spec),
            fakers=fakers,
            invokes=invokes,
            place=mock_place(spec),
        )
    except Exception:
        # The failed program leaves futures whose errors asyncio would log again, one traceback each,
        # when they are collected; the error raised here already says what went wrong.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        raise
    resources = tuple(replace(r, inputs=redact(r.inputs), outputs=redact(r.outputs)) for r in run.resources)
    say(f"checking {len(resources)} resources against the policy")
    views = [engine.view_of(r) for r in resources]
    violations = engine.evaluate(views, engine.context_for(spec), book)
    say(f"pricing them in {spec.region}")
    priced = (PricedResource(r.urn, r.type, r.name, r.inputs, r.custom) for r in resources)
    cost = estimate(priced, spec.cloud_registration.price_key, region=spec.region)
    return PreviewReport(spec, resources, tuple(violations), cost, time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------ JSON


def report_json(report: PreviewReport) -> dict[str, Any]:
    spec = report.spec
    by_rule = {rule: [v for v in report.violations if v.rule is rule] for rule in Rule}
    return {
        "tenant": spec.name,
        "cloud": spec.cloud.value,
        "region": spec.region,
        "size": spec.size.value,
        "zones": list(spec.zones),
        "region_warnings": list(region_warnings(spec.cloud.value, spec.region)),
        "spec_warnings": list(spec_warnings(spec)),
        "passed": report.passed,
        "seconds": round(report.seconds, 3),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent_urn,
                "protect": r.protect,
                "dependencies": list(r.dependencies),
                "propertyDependencies": {key: list(urns) for key, urns in r.property_dependencies.items()},
            }
            for r in report.resources
        ],
        "policy": {
            "violations": len(report.violations),
            "rules": [
                {
                    "rule": rule.value,
                    "description": RULE_DESCRIPTIONS[rule],
                    "enforcement": "mandatory",
                    "passed": not found,
                    "violations": [
                        {"urn": v.urn, "type": v.resource_type, "name": v.resource_name, "message": v.message}
                        for v in found
                    ],
                }
                for rule, found in by_rule.items()
            ],
        },
        "cost": {
            "currency": "USD",
            "total_monthly_usd": round(report.cost.total_monthly_usd, 2),
            "region": report.cost.region,
            "complete": report.cost.complete,
            "pricing": report.cost.summary,
            "not_priced": [r.urn for r in report.cost.not_priced],
            "resources": [
                {
                    "urn": c.urn,
                    "type": c.type,
                    "name": c.name,
                    "status": c.status,
                    "monthly_usd": round(c.monthly_usd, 2),
                    "items": [
                        {"price": i.price_key, "quantity": i.quantity, "monthly_usd": round(i.monthly_usd, 2)}
                        for i in c.items
                    ],
                    "reason": c.reason,
                }
                for c in report.cost.resources
            ],
        },
    }


# ------------------------------------------------------------------------------------------------ rich


def resource_tree(report: PreviewReport) -> Tree:
    spec = report.spec
    root = Tree(f"[bold]{spec.name}[/] ({spec.cloud.value} {spec.region}, {spec.size.value})")
    costs = {c.urn: c for c in report.cost.resources}
    nodes: dict[str | None, Tree] = {}
    pending = list(report.resources)
    known = {r.urn for r in report.resources}
    while pending:  # parents are registered before children, but not always reported first
        progressed = [r for r in pending if r.parent_urn not in known or r.parent_urn in nodes]
        for r in progressed:
            cost = costs.get(r.urn)
            price = f" [green]${cost.monthly_usd:,.2f}/mo[/]" if cost and cost.monthly_usd else ""
            flag = " [yellow]protected[/]" if r.protect else ""
            nodes[r.urn] = nodes.get(r.parent_urn, root).add(f"{r.type} [bold]{r.name}[/]{price}{flag}")
        pending = [r for r in pending if r.urn not in nodes]
        if not progressed:  # a parent cycle cannot happen in Pulumi; guard against looping anyway
            break
    return root


def verdict_table(report: PreviewReport) -> Table:
    table = Table(title="Policy (all mandatory)")
    for column in ("rule", "verdict", "violations"):
        table.add_column(column, overflow="fold")
    for rule in Rule:
        found = [v for v in report.violations if v.rule is rule]
        verdict = "[red]FAIL[/]" if found else "[green]pass[/]"
        table.add_row(rule.value, verdict, "\n".join(f"{v.resource_name}: {v.message}" for v in found))
    return table


def cost_table(report: PreviewReport) -> Table:
    table = Table(title=f"Estimated monthly cost in {report.cost.region} (list prices, see infra/prices.json)")
    for column in ("resource", "type", "estimate"):
        table.add_column(column, overflow="fold")
    for c in sorted(report.cost.resources, key=lambda c: -c.monthly_usd):
        if c.status == "priced":
            table.add_row(c.name, c.type, f"${c.monthly_usd:,.2f}")
        elif c.status == "not priced":
            table.add_row(c.name, c.type, f"[yellow]not priced[/] ({c.reason})")
    total = f"${report.cost.total_monthly_usd:,.2f}" + ("" if report.cost.complete else " (partial)")
    table.add_row("[bold]total[/]", "", f"[bold]{total}[/]")
    table.caption = report.cost.summary
    return table


def render(report: PreviewReport, console: Console) -> None:
    console.print(resource_tree(report))
    console.print(verdict_table(report))
    console.print(cost_table(report))
    zones = ", ".join(report.spec.zones) or "none (the region has no availability zones)"
    console.print(f"zones: {zones}")
    for warning in region_warnings(report.spec.cloud.value, report.spec.region):
        console.print(f"[yellow]region:[/] {warning}")
    for warning in spec_warnings(report.spec):
        console.print(f"[yellow]warning:[/] {warning}")
    verdict = "[green]no policy violations[/]" if report.passed else f"[red]{len(report.violations)} violation(s)[/]"
    console.print(f"{report.spec.name}: {len(report.resources)} resources, {verdict}, {report.seconds:.1f}s")


# ------------------------------------------------------------------------------------------------ fleet


def root_cause(exc: Exception) -> str:
    """One line for a failed preview: Pulumi chains "While processing ... has risen: <cause>" messages."""
    return f"{type(exc).__name__}: {str(exc).rsplit('has risen: ', 1)[-1]}"


def preview_path(path: Path) -> dict[str, Any]:
    """A stack file's preview as JSON (what a fleet worker returns); errors become an `error` entry."""
    try:
        return report_json(preview_spec(read_stack(path)))
    except Exception as exc:
        return {"tenant": stack_name(path), "passed": False, "error": root_cause(exc)}


def fleet_start_method() -> str:
    """How fleet workers start: forked from this process where that is safe (Linux: no SDK imported yet, no
    thread running), spawned elsewhere (macOS system libraries are not fork-safe)."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


# A worker's first stack of a cloud imports that cloud's provider SDK (seconds: pulumi-aws, pulumi-gcp and
# pulumi-azure-native are hundreds of MB of generated Python); later stacks of the same cloud reuse it, and an
# Azure stack's program is the largest. Relative costs for sharing the work out, rounded from the cold and warm
# figures in docs/benchmarks.md (a cold start ~5x an AWS stack, an Azure stack ~3x, a GCP stack ~0.6x).
COLD_START_COST = 5.0
STACK_COSTS = {"aws": 1.0, "gcp": 0.6, "azure": 3.0}


def share_cost(share: list[tuple[str, Path]]) -> float:
    """What one worker's (cloud, stack file) pairs cost: one SDK import per cloud, then each stack."""
    clouds = {cloud for cloud, _ in share}
    return COLD_START_COST * len(clouds) + sum(STACK_COSTS.get(cloud, 1.0) for cloud, _ in share)


def _makespan(jobs: list[list[tuple[str, Path]]], workers: int) -> tuple[float, list[list[tuple[str, Path]]]]:
    """Longest-first assignment of jobs to workers: (the busiest worker's cost, each worker's stacks)."""
    shares: list[list[tuple[str, Path]]] = [[] for _ in range(min(workers, len(jobs)))]
    for job in sorted(jobs, key=share_cost, reverse=True):
        min(shares, key=share_cost).extend(job)
    return max((share_cost(share) for share in shares), default=0.0), shares


def _split(pairs: list[tuple[str, Path]], parts: int) -> list[list[tuple[str, Path]]]:
    size, extra = divmod(len(pairs), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [pairs[bounds[i] : bounds[i + 1]] for i in range(parts)]


def fleet_shares(stacks: list[tuple[str, Path]], workers: int) -> list[list[Path]]:
    """Split (cloud, stack file) pairs among at most `workers` processes so the busiest finishes first. Each
    cloud's stacks are spread over as few workers as pays off, since every worker a cloud's stacks go to
    imports its SDK again: starting from one part per cloud, a cloud gets one more part while that shortens
    the busiest worker's load (or keeps it while a worker would stay idle)."""
    by_cloud = {cloud: [pair for pair in stacks if pair[0] == cloud] for cloud, _ in stacks}
    parts = dict.fromkeys(by_cloud, 1)

    def plan(counts: dict[str, int]) -> tuple[float, int, list[list[tuple[str, Path]]]]:
        jobs = [job for cloud, pairs in by_cloud.items() for job in _split(pairs, counts[cloud])]
        span, planned = _makespan(jobs, workers)
        return span, len(jobs), planned

    best, _, shares = plan(parts)
    while True:
        options = [
            (plan(counts), counts)
            for cloud in by_cloud
            if parts[cloud] < len(by_cloud[cloud])
            for counts in [{**parts, cloud: parts[cloud] + 1}]
        ]
        acceptable = [
            (span, jobs, candidate, counts)
            for (span, jobs, candidate), counts in options
            if span < best or (span == best and jobs <= workers)
        ]
        if not acceptable:
            break
        best, _, shares, parts = min(acceptable, key=lambda option: (option[0], option[1]))
    return [[path for _, path in share] for share in shares if share]


def _fleet_worker(paths: list[Path], results: Any) -> None:
    """One worker process: its stacks one after another (warm after the first of each cloud)."""
    for path in paths:
        results.put((str(path), preview_path(path)))


def preview_fleet(
    directory: Path, workers: int, on_done: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Preview every stack file in `directory`; results sorted by tenant. A stack file that cannot be read is
    reported here at once. The others are shared among at most `workers` worker processes by cloud
    (`fleet_shares`), each worker running its share one program at a time (Pulumi's runtime state is per
    process) and paying each cloud's SDK import once; with one share everything runs in this process."""
    results: list[dict[str, Any]] = []

    def record(result: dict[str, Any]) -> None:
        results.append(result)
        if on_done:
            on_done(result)

    stacks: list[tuple[str, Path]] = []
    for path in stack_paths(directory):
        try:
            stacks.append((read_stack(path).cloud.value, path))
        except StackFileError:
            record(preview_path(path))  # its error, without a program run
    shares = fleet_shares(stacks, max(1, workers))
    if len(shares) <= 1:
        for path in shares[0] if shares else []:
            record(preview_path(path))
        return sorted(results, key=lambda r: str(r["tenant"]))
    release_threads()  # a forked worker must not inherit an event loop whose executor threads it lacks
    context = get_context("fork") if fleet_start_method() == "fork" else get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_fleet_worker, args=(share, queue), daemon=True) for share in shares]
    for process in processes:
        process.start()
    pending = {str(path): stack_name(path) for share in shares for path in share}
    while pending:
        try:
            path, result = queue.get(timeout=0.5)
        except Empty:
            if any(process.is_alive() for process in processes):
                continue
            try:  # every worker has ended: take what is left in the queue, then name what never came
                path, result = queue.get(timeout=0.5)
            except Empty:
                for tenant in sorted(pending.values()):
                    record({"tenant": tenant, "passed": False, "error": "its fleet worker exited before previewing it"})
                break
        pending.pop(path, None)
        record(result)
    for process in processes:
        process.join()
    return sorted(results, key=lambda r: str(r["tenant"]))


def preview_fleet_with_progress(directory: Path, workers: int, console: Console) -> list[dict[str, Any]]:
    """The fleet preview with a progress bar on `console` (refreshed as each stack finishes: no refresh
    thread, since the workers fork from this process)."""
    count = len(stack_paths(directory))
    with Progress(console=console, transient=True, auto_refresh=False) as progress:
        task = progress.add_task(f"previewing {count} stacks with {workers} worker(s)", total=count)
        progress.refresh()

        def advance(result: dict[str, Any]) -> None:
            progress.advance(task)
            progress.refresh()

        return preview_fleet(directory, workers, advance)


def fleet_cost(cost: dict[str, Any]) -> str:
    """A stack's estimate as the fleet table shows it: never $0.00 for a region infra/prices.json has no
    prices for, and a partial sum marked as such."""
    total: float = cost["total_monthly_usd"]
    if not total and not cost["complete"]:
        return f"[yellow]no prices for {cost['region']}[/]"
    return f"${total:,.2f}" + ("" if cost["complete"] else " (partial)")


def fleet_table(results: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Fleet preview")
    for column in ("tenant", "cloud", "region", "size", "resources", "violations", "monthly", "seconds"):
        table.add_column(column, overflow="fold")
    for r in results:
        if "error" in r:  # the message itself is printed under the table
            table.add_row(r["tenant"], "", "", "", "", "[red]failed[/]", "", "")
            continue
        violations = r["policy"]["violations"]
        table.add_row(
            r["tenant"],
            r["cloud"],
            r["region"],
            r["size"],
            str(len(r["resources"])),
            f"[red]{violations}[/]" if violations else "[green]0[/]",
            fleet_cost(r["cost"]),
            f"{r['seconds']:.1f}",
        )
    return table
