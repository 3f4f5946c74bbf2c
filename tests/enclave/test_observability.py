"""Structured JSON logs and OpenTelemetry request tracing."""

from __future__ import annotations

import io
import logging

import orjson
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from enclave.app import create_app
from enclave.logging import JsonFormatter, request_id_var
from enclave.runtime import Runtime
from enclave.services import Services


def test_requests_are_traced_with_their_route(runtime: Runtime) -> None:
    exporter = InMemorySpanExporter()
    runtime.telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with TestClient(create_app(Services.build(runtime))) as client:
        assert client.get("/api/v1/audit/public-key").status_code == 200
        client.get("/healthz")  # probes are not traced
    names = [span.name for span in exporter.get_finished_spans()]
    assert any("/api/v1/audit/public-key" in name for name in names)
    assert not any("healthz" in name for name in names)
    server = next(s for s in exporter.get_finished_spans() if s.kind.name == "SERVER")
    assert server.attributes is not None
    assert server.attributes.get("http.response.status_code", server.attributes.get("http.status_code")) == 200


def test_logs_are_one_json_object_per_line_with_the_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("enclave.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    token = request_id_var.set("req-abcdef12")
    try:
        logger.info("request", extra={"method": "GET", "path": "/api/v1/audit/events", "status": 200})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "request" and first["request_id"] == "req-abcdef12"
    assert first["method"] == "GET" and first["status"] == 200 and first["level"] == "INFO"
    assert first["time"].endswith("+00:00")
    assert second["error"] == "ValueError" and "boom" not in orjson.dumps(second).decode()
