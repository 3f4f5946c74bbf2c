"""OpenTelemetry set-up: request tracing and the log pipeline audit records are emitted through.

Exporter by setting: none (in-process only), console, or OTLP over HTTP to the customer's collector."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from enclave.settings import OtelExporter, Settings


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def build_telemetry(settings: Settings) -> Telemetry:
    resource = Resource.create({"service.name": settings.service_name, "enclave.mode": settings.mode.value})
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    if settings.otel_exporter is OtelExporter.OTLP:
        endpoint = (settings.otel_endpoint or "").rstrip("/")
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"))
        )
    elif settings.otel_exporter is OtelExporter.CONSOLE:
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogRecordExporter()))
    return Telemetry(tracer_provider, logger_provider)
