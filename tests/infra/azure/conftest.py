"""Fixtures for the Azure tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure_harness import AzureRun, make_spec, run_azure


@pytest.fixture(scope="session")
def azure_run() -> Callable[..., AzureRun]:
    """Runs are cached per spec: the default graphs are shared by several test files."""
    cache: dict[str, AzureRun] = {}

    def get(**overrides: Any) -> AzureRun:
        spec = make_spec(**overrides)
        key = spec.model_dump_json()
        if key not in cache:
            cache[key] = run_azure(spec)
        return cache[key]

    return get
