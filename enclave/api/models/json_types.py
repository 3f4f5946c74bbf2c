"""Body fields typed as JSON types, exactly: what the published schema says is what is accepted.

pydantic's default (lax) mode would take `true` as 1 and `"900"` as 900 for an integer, and `0` as false for
a boolean; a client must not be able to send a type the schema does not name. An integer-valued number such
as `900.0` is an integer to JSON Schema, so it is accepted as one (and `900.5` refused)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool


def json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON integer (not a boolean or a string)")
    return value


JsonBool = StrictBool
# For a constrained integer, put the constraints before the check, so that the schema keeps them:
# `Annotated[int, Field(ge=1, le=10), JSON_INTEGER]`.
JSON_INTEGER = BeforeValidator(json_integer)
JsonInt = Annotated[int, JSON_INTEGER]
