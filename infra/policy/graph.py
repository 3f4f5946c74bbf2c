"""Graph-check builders shared by the clouds: a reference must name the tenant's own resource (its key,
its bucket, its role), and a resource must have its companion (a bucket its encryption configuration).

A reference is the tenant's own when its value is an identifier of a resource of the expected type in this
stack (the value the program took from that resource's output), or, during a preview where the value is not
known yet, when the input depends on such a resource. A name that merely starts with the tenant's name is not
ownership: `acme-corp-db` starts with `acme-`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from infra.policy.model import (
    UNKNOWN,
    Graph,
    GraphCheck,
    PolicyContext,
    ResourceCheck,
    ResourceView,
    Rule,
    Violation,
    inputs_at,
    unknown_path,
    violation,
)

# Reads the referencing values out of a resource (most are one input path; some are composed).
Extractor = Callable[[ResourceView], list[Any]]


def at(path: str) -> Extractor:
    return lambda view: list(inputs_at(view.inputs, path))


@dataclass(frozen=True)
class Reference:
    """Input `path` of resources of type `source` names a resource of `targets` (or an allowed external one)."""

    source: str
    path: str
    targets: tuple[str, ...]
    what: str  # "the tenant key", "the tenant's subnet group", ...
    extract: Extractor | None = None  # defaults to the values at `path`

    def values(self, view: ResourceView) -> list[Any]:
        return (self.extract or at(self.path))(view)


def owned_arn(value: str, identifiers: Iterable[str]) -> bool:
    """An ARN (or id) naming one of `identifiers` itself or something under it (`<bucket arn>/*`,
    `<log group arn>:*`)."""
    return any(value == i or value.startswith((f"{i}/", f"{i}:")) for i in identifiers)


def _same_or_version(value: str, named: str) -> bool:
    """`value` names `named` itself, or one is the other plus one last path segment (a key version:
    `.../keys/k` and `.../keys/k/<version>` are the same key)."""
    if value == named:
        return True
    longer, shorter = (value, named) if len(value) > len(named) else (named, value)
    rest = longer.removeprefix(f"{shorter}/")
    return rest not in (longer, "") and "/" not in rest


def _refers(graph: Graph, ref: Reference, view: ResourceView, value: Any, external: Sequence[str]) -> bool:
    top = ref.path.split(".", 1)[0]
    if value == UNKNOWN:
        return graph.depends_on(view, top, *ref.targets)
    if not isinstance(value, str):
        return False
    if any(_same_or_version(value, e) for e in external if e):
        return True
    # A version of the stack's own key (`.../keys/<name>/<version>`) is that key: services that take only a
    # versioned key id get the key's current version.
    return graph.refers_to(view, top, value, *ref.targets) or any(
        _same_or_version(value, named) for named in graph.identifiers(*ref.targets) if "/" in named
    )


def reference_check(
    rule: Rule, references: Sequence[Reference], external: Callable[[PolicyContext], Sequence[str]]
) -> GraphCheck:
    """Every value at each reference's path names a resource of its target types in this stack, or one of
    `external(ctx)` (what the spec itself names: the customer's key, the customer's bucket)."""

    def check(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
        allowed = tuple(e for e in external(ctx) if e)
        for ref in references:
            for view in graph.of_type(ref.source):
                for value in ref.values(view):
                    if not _refers(graph, ref, view, value, allowed):
                        yield violation(
                            rule,
                            view,
                            f"{ref.path} = {value!r} is not {ref.what} created by this stack"
                            + (f" or named by the spec ({', '.join(allowed)})" if allowed else "")
                            + "; reference the resource's output instead of a name",
                        )

    return check


def tenant_key_check(references: Sequence[Reference]) -> GraphCheck:
    """The tenant key means the key this stack created (by reference) or the spec's customer_managed_key,
    not "any key that is not the provider-managed one"."""
    return reference_check(Rule.ENCRYPTION_AT_REST, references, lambda ctx: (ctx.customer_managed_key or "",))


@dataclass(frozen=True)
class Companion:
    """Every resource of `owner` needs a resource of `companion` whose `link` input names it and that passes
    the check `satisfies` (None: any), e.g. every S3 bucket its SSE-KMS encryption configuration."""

    rule: Rule
    owner: str
    companion: str
    link: str
    what: str  # what is missing, said to the operator
    satisfies: ResourceCheck | None = None


def companion_check(companions: Sequence[Companion]) -> GraphCheck:
    def check(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
        for c in companions:
            # A companion with inputs unknown during a preview is judged by its own resource check once known.
            candidates = [
                v
                for v in graph.of_type(c.companion)
                if c.satisfies is None or not list(c.satisfies(v, ctx)) or unknown_path(v.inputs) is not None
            ]
            for owner in graph.of_type(c.owner):
                names = graph.identifiers_of(owner)
                if not any(
                    v.inputs.get(c.link) in names or (owner.urn in v.property_dependencies.get(c.link, ()))
                    for v in candidates
                ):
                    yield violation(c.rule, owner, f"has no {c.what}; add it (a {c.companion} for this resource)")

    return check
