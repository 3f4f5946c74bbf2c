"""The private Pulumi internals the offline run relies on are pinned to the SDK they were checked against."""

from __future__ import annotations

import importlib.metadata

import pulumi

from infra.mockrun import run_program
from infra.pulumi_internals import CHECKED_PULUMI_VERSION, run_on_pulumi_loop


def test_installed_pulumi_is_the_version_the_internals_were_checked_against() -> None:
    installed = importlib.metadata.version("pulumi")
    assert installed == CHECKED_PULUMI_VERSION, (
        f"pulumi {installed} is installed but infra/pulumi_internals.py was checked against "
        f"{CHECKED_PULUMI_VERSION}: re-read _sync_await and SETTINGS.rpc_manager / SETTINGS.outputs in the new SDK, "
        "run tests/infra, then update CHECKED_PULUMI_VERSION"
    )


def test_an_output_created_in_a_run_resolves_after_it() -> None:
    holder: list[pulumi.Output[str]] = []
    run_program(lambda: holder.append(pulumi.Output.from_input("x").apply(lambda v: v * 3)), project="p", stack="s")
    assert run_on_pulumi_loop(holder[0].future()) == "xxx"


def test_a_program_runs_after_someone_elses_asyncio_run_cleared_the_threads_loop() -> None:
    """On Python 3.11, asyncio.run() leaves the thread without a current loop; a test client or library that
    used it before must not break every later offline run (it did, under pytest-xdist's test ordering)."""
    import asyncio

    import pulumi

    from infra.mockrun import run_program

    async def nothing() -> None:
        return None

    asyncio.run(nothing())
    run = run_program(lambda: pulumi.ComponentResource("test:index:Thing", "thing"), project="enclave", stack="loop")
    assert [r.type for r in run.resources] == ["test:index:Thing"]


def test_a_finished_run_leaves_no_thread_behind_once_released() -> None:
    """The fleet preview forks its workers after previewing one stack per cloud itself: a thread of the
    event loop's executor alive at that moment would be missing in the child, and the child's first blocking
    call would wait forever."""
    import threading

    import pulumi

    from infra.pulumi_internals import release_threads

    async def blocking_work() -> int:
        import asyncio

        return await asyncio.get_event_loop().run_in_executor(None, lambda: 42)

    release_threads()  # whatever earlier tests left on this thread's loop
    before = set(threading.enumerate())
    assert run_on_pulumi_loop(blocking_work()) == 42
    started = set(threading.enumerate()) - before
    assert started  # the executor's idle thread outlives the call
    release_threads()
    assert not any(thread.is_alive() for thread in started)
    run = run_program(lambda: pulumi.ComponentResource("test:index:Thing", "after"), project="enclave", stack="t")
    assert [r.name for r in run.resources] == ["after"]  # and the next program runs on the fresh loop
    assert run_on_pulumi_loop(blocking_work()) == 42
