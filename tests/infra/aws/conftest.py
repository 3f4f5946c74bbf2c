"""Session fixture: the AWS stack built per spec variant, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_harness import Built, build_stack, make_spec

_CACHE: dict[str, Built] = {}


@pytest.fixture(scope="session")
def built() -> Callable[..., Built]:
    """build(**spec overrides) -> Built, cached per spec so each variant runs once per session."""

    def get(**overrides: Any) -> Built:
        spec = make_spec(**overrides)
        key = spec.model_dump_json()
        if key not in _CACHE:
            _CACHE[key] = build_stack(spec)
        return _CACHE[key]

    return get
