"""The published OpenAPI document (docs/openapi.json), generated from the routes without a database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from enclave.app import api_app


def openapi_document() -> dict[str, Any]:
    return api_app().openapi()


def write_openapi(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
