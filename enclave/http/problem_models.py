"""The one error shape of the API: problem details (RFC 9457), served as `application/problem+json`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where in the request: e.g. ['body', 'ttl_days']")
    msg: str
    type: str


class Problem(BaseModel):
    type: str = Field("about:blank", description="a URI naming the kind of problem")
    title: str = Field(description="short, the same for every problem of this kind")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request, for a human")
    request_id: str | None = Field(None, description="quote it when asking about this request")
    errors: list[FieldError] | None = Field(None, description="request validation: one entry per invalid field")


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a status answered with a problem document."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
