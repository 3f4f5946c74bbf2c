"""Run the real Pulumi program offline under Pulumi's mocks and collect every resource it registers.

Used by the offline preview (`enclave stack preview`) and by the tests. No Pulumi CLI, no plugins, no
credentials: the language SDK talks to an in-process mock engine. Resources come back with their inputs in
the same camelCase shape a pulumi-policy validator sees, so one set of policy rules serves both, and with the
ordering edges the engine would receive (`dependencies`, `propertyDependencies`), so tests can assert what a
real control plane needs to exist first (`assert_ordered`).
Pulumi's runtime state is process-global, so one process runs one program at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from infra.pulumi_internals import ensure_current_loop, run_program_to_completion


@dataclass(frozen=True)
class MockPlace:
    """Where the faked stack lives, so computed outputs carry the stack's own region and account (ARNs,
    endpoints, ARM ids): the AWS account id, GCP project or Azure subscription id, and the region."""

    account: str = "123456789012"
    region: str = "us-east-1"


# (place, type token, name, inputs) -> outputs the real provider would compute (ids, ARNs, endpoints).
OutputFaker: TypeAlias = Callable[[MockPlace, str, str, Mapping[str, Any]], dict[str, Any]]


@dataclass
class MockedResource:
    type: str
    name: str
    urn: str
    parent_urn: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    protect: bool = False
    # URNs this resource waits for, as the engine receives them: every dependency, and per input property
    # the resources its value came from.
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ignore_changes: tuple[str, ...] = ()  # inputs a later `pulumi up` leaves alone (`ignore_changes`)
    registered_outputs: tuple[str, ...] | None = None  # a component's `register_outputs` names (None: never called)


@dataclass
class MockRun:
    resources: list[MockedResource] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[MockedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> MockedResource:
        found = self.of_type(type_token)
        if len(found) != 1:
            raise AssertionError(f"expected exactly one {type_token}, found {len(found)}")
        return found[0]

    def named(self, type_token: str, name: str) -> MockedResource:
        found = [r for r in self.of_type(type_token) if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected exactly one {type_token} named {name!r}, found {len(found)}")
        return found[0]

    def waits_for(self, resource: MockedResource) -> set[str]:
        """URNs `resource` is created after, transitively: explicit and property dependencies, its parent
        chain, and everything those wait for. Depending on a component waits for its whole subtree, as the
        engine does, so a component's children count as dependencies of whoever depends on the component."""
        by_urn = {r.urn: r for r in self.resources}
        children: dict[str, list[str]] = {}
        for r in self.resources:
            if r.parent_urn:
                children.setdefault(r.parent_urn, []).append(r.urn)
        seen: set[str] = set()
        stack = [resource.urn]
        while stack:
            current = by_urn.get(stack.pop())
            if current is None:
                continue
            direct = {*current.dependencies, *(u for urns in current.property_dependencies.values() for u in urns)}
            if current.parent_urn:
                direct.add(current.parent_urn)
            for urn in direct:
                # A dependency on a component expands to its descendants; a parent does not wait for them.
                expanded = [urn] if urn == current.parent_urn else _subtree(urn, children)
                for dep in expanded:
                    if dep not in seen:
                        seen.add(dep)
                        stack.append(dep)
        seen.discard(resource.urn)
        return seen


def _subtree(urn: str, children: Mapping[str, list[str]]) -> list[str]:
    found, pending = [], [urn]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def assert_ordered(run: MockRun, *, before: MockedResource, after: MockedResource) -> None:
    """Fail unless `after` waits for `before` (transitively, through dependencies, property dependencies and
    parents): what a real engine needs to create `before` first."""
    if before.urn not in run.waits_for(after):
        raise AssertionError(f"{after.type} {after.name!r} does not wait for {before.type} {before.name!r}")


def _default_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Plausible computed outputs for any resource: id, name, ARN / self-link style identifiers."""
    return {
        "id": f"{name}-id",
        "name": inputs.get("name", name),
        "arn": f"arn:mock:{type_token.split(':', maxsplit=1)[0]}:::{name}",
        "selfLink": f"https://mock.invalid/{name}",
    }


class _RecordingMocks(pulumi_mocks.Mocks):
    def __init__(self, place: MockPlace, fakers: Mapping[str, OutputFaker], invokes: Mapping[str, OutputFaker]) -> None:
        self._place = place
        self._fakers = fakers
        self._invokes = invokes
        self._latest = threading.local()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        faker = self._fakers.get(args.typ)
        faked = faker(self._place, args.typ, args.name, args.inputs) if faker is not None else {}
        outputs = {**_default_outputs(args.typ, args.name, args.inputs), **faked}
        # Inputs echo back as outputs, except where the provider reshapes or computes them (an Azure identity
        # list comes back as a map; nested computed fields get filled in): there the faked value wins.
        state = {**outputs, **args.inputs, **faked}
        self._latest.value = (dict(args.inputs), state)
        return outputs["id"], state

    def take_latest(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Inputs and state of the resource this thread just created (the monitor calls `new_resource`
        synchronously inside RegisterResource, possibly on several threads at once)."""
        latest: tuple[dict[str, Any], dict[str, Any]] = getattr(self._latest, "value", ({}, {}))
        self._latest.value = ({}, {})
        return latest

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        faker = self._invokes.get(args.token)
        if faker is None:
            raise RuntimeError(f"the offline preview has no canned answer for invoke {args.token}")
        return faker(self._place, args.token, "", args.args), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records each resource's parent and protect flag, which the mocks' callback does not see."""

    def __init__(self, mocks: _RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks
        self.registrations: list[tuple[Any, str, dict[str, Any], dict[str, Any]]] = []
        self.registered_outputs: dict[str, tuple[str, ...]] = {}

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.registered_outputs[request.urn] = tuple(sorted(request.outputs.fields))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":  # the stack itself never reaches the mocks
            inputs, outputs = self.recording.take_latest()
            self.registrations.append((request, response.urn, inputs, outputs))
        return response


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any] | None = None,
    fakers: Mapping[str, OutputFaker] | None = None,
    invokes: Mapping[str, OutputFaker] | None = None,
    place: MockPlace | None = None,
) -> MockRun:
    """Run `program` as `pulumi preview` would, offline, and return every resource it registered."""
    recording = _RecordingMocks(place or MockPlace(), fakers or {}, invokes or {})
    monitor = _RecordingMonitor(recording)
    ensure_current_loop()
    pulumi.runtime.set_mocks(recording, project=project, stack=stack, preview=True, monitor=monitor)
    # Replace (not extend) the process's stack config: a previous run's values must not leak into this one.
    pulumi.runtime.set_all_config(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in (config or {}).items()}
    )
    run_program_to_completion(program)

    run = MockRun()
    for request, urn, inputs, outputs in monitor.registrations:
        run.resources.append(
            MockedResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent_urn=request.parent or None,
                inputs=inputs,
                outputs=outputs,
                custom=bool(request.custom),
                protect=bool(request.protect),
                dependencies=tuple(request.dependencies),
                property_dependencies={
                    key: tuple(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns
                },
                ignore_changes=tuple(request.ignoreChanges),
                registered_outputs=monitor.registered_outputs.get(urn),
            )
        )
    return run
