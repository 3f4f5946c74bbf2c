"""Grant fields: the one model a grant is validated with, by the API, the CLI and the domain alike.

Each backend's module declares its grant model as a subclass of `GrantSpecBase` (storage_connector/s3.py
`S3GrantSpec`, ...) and registers it (storage_connector/backends.py); `parse_spec` and the API's request body
are built from those registrations, so there is one rule per field and nowhere for two copies to drift.

Patterns are written with plain ASCII character classes, never `\\w`, `\\d` or `\\s`: they are checked by
pydantic's regex engine here and by clients reading the ECMA regex of the OpenAPI document, and those classes
mean Unicode in some engines and ASCII in others (`role/rôle` matched `\\w` in one copy of the old rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from storage_connector.grants import Backend
from storage_connector.keys import KeyPolicyError, normalize_prefix
from storage_connector.ttl import DEFAULT_TTL, HARD_MAX_TTL, TtlPolicy

GRANT_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
# A prefix segment: the characters S3 calls safe plus the ones it says may need handling, without '%' (the key
# policy refuses escapes), '/', spaces or '{}'; never starting with '.' (so no '.', '..', '..;' or '..name').
_SEGMENT = r"[A-Za-z0-9!$&'()*+,:;=?@_~-][A-Za-z0-9!$&'()*+,.:;=?@_~-]*"
PREFIX_PATTERN = rf"^({_SEGMENT}/)*({_SEGMENT})?$"
MAX_PREFIX_INPUT = 510  # with the '/' the prefix is stored with: 511, the grants table's column
# scheme://host[:port] and, where the backend keeps it, a path of segments that never start with '.'.
_HOST = r"https?://[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?"
ENDPOINT_PATTERN = rf"^{_HOST}(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?$"
HOST_ENDPOINT_PATTERN = rf"^{_HOST}/?$"


def _json_integer(value: object) -> object:
    """JSON Schema's integer: a number without a fractional part (900 or 900.0), never `true` or "900"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer number, not a boolean or a string")
    return value


# An integer as its JSON Schema says (pydantic's lax int would also take true and "900"). Metadata for
# `Annotated[int, Field(ge=..., le=...), JSON_INTEGER]`: the bounds first, so that the schema publishes them.
JSON_INTEGER = BeforeValidator(_json_integer)
TtlSeconds = Annotated[int, Field(ge=1, le=int(HARD_MAX_TTL.total_seconds())), JSON_INTEGER]


@dataclass(frozen=True)
class Matches:
    """`Annotated[str, Matches(pattern, rule)]`: the string must match `pattern` (anchored) and is refused with
    `rule`, a sentence a person can act on rather than the pattern; the OpenAPI document publishes the pattern."""

    pattern: str
    rule: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if compiled.fullmatch(value) is None:  # fullmatch: '$' alone also matches before a final newline
                raise ValueError(self.rule)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}


GrantName = Annotated[str, Matches(GRANT_NAME_PATTERN, "1-63 lower-case letters, digits and inner hyphens")]
Prefix = Annotated[
    str,
    Matches(
        PREFIX_PATTERN,
        "segments of ASCII letters, digits and !$&'()*+,.:;=?@_~- separated by '/', none starting with '.'",
    ),
]
Endpoint = Annotated[
    str, Matches(ENDPOINT_PATTERN, "http(s)://host[:port][/path], the path's segments not starting with '.'")
]
HostEndpoint = Annotated[str, Matches(HOST_ENDPOINT_PATTERN, "http(s)://host[:port], without a path")]


@dataclass(frozen=True)
class StoredFields:
    """The grants table's backend-specific columns, as one backend fills them."""

    region: str | None = None
    endpoint: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class GrantSpecBase(BaseModel):
    """What every backend's grant has. Secrets are never part of a grant: the platform's own credentials
    (its AWS role, GCS key, Azure key) come from the gateway's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: GrantName = Field("default", description="names the grant within the tenant")
    backend: Backend
    bucket: str
    prefix: Prefix = Field(
        "",
        max_length=MAX_PREFIX_INPUT,
        description="the tenant's prefix in the bucket; keys are confined to it (segments never start with '.')",
    )
    ttl_default_seconds: TtlSeconds | None = Field(
        None, description="URL lifetime when a batch names none; default 15 minutes, or ttl_max_seconds if shorter"
    )
    ttl_max_seconds: TtlSeconds = Field(
        int(HARD_MAX_TTL.total_seconds()), description="the longest URL lifetime a batch may ask for"
    )

    @field_validator("prefix", mode="before")
    @classmethod
    def _prefix(cls, value: object) -> object:
        """The key policy's own reasons first ("contains a '..' segment"), then the pattern's rule."""
        if isinstance(value, str):
            try:
                normalize_prefix(value)
            except KeyPolicyError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("prefix")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalize_prefix(value)

    @model_validator(mode="after")
    def _ttl(self) -> Self:
        if self.ttl_default_seconds is not None and self.ttl_default_seconds > self.ttl_max_seconds:
            raise ValueError("ttl_default_seconds must not exceed ttl_max_seconds")
        return self

    def ttl_policy(self) -> TtlPolicy:
        maximum = timedelta(seconds=self.ttl_max_seconds)
        default = timedelta(seconds=self.ttl_default_seconds) if self.ttl_default_seconds else DEFAULT_TTL
        return TtlPolicy(min(default, maximum), maximum)

    def stored(self) -> StoredFields:
        """The backend's own columns; a backend with fields of its own overrides this."""
        return StoredFields()
