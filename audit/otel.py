"""Emit committed audit records as OpenTelemetry log records (event name = action), so they stream to the
customer's collector or SIEM. The database stays the system of record; emission happens after commit."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry._logs import Logger, LoggerProvider, LogRecord, SeverityNumber, get_logger_provider
from opentelemetry.util.types import AnyValue

from audit.events import ChainedRecord, Outcome

_SEVERITY = {
    Outcome.SUCCESS: (SeverityNumber.INFO, "INFO"),
    Outcome.DENIED: (SeverityNumber.WARN, "WARN"),
    Outcome.ERROR: (SeverityNumber.ERROR, "ERROR"),
}


def _optional(attributes: dict[str, AnyValue], key: str, value: str | None) -> None:
    if value is not None:
        attributes[key] = value


class OtelRecordEmitter:
    def __init__(self, provider: LoggerProvider | None = None) -> None:
        self._logger: Logger = (provider or get_logger_provider()).get_logger("enclave.audit")

    def emit(self, records: Sequence[ChainedRecord]) -> None:
        for record in records:
            event = record.event
            severity, severity_text = _SEVERITY[event.outcome]
            attributes: dict[str, AnyValue] = {
                "enclave.tenant": record.tenant,
                "enclave.audit.seq": record.seq,
                "enclave.audit.hash": record.hash,
                "enclave.audit.event_id": event.id,
                "enclave.audit.outcome": event.outcome.value,
                "enclave.actor.kind": event.actor.kind.value,
                "enclave.actor.id": event.actor.id,
            }
            _optional(attributes, "enclave.actor.email", event.actor.email)
            _optional(attributes, "client.address", event.actor.ip)
            _optional(attributes, "user_agent.original", event.actor.user_agent)
            _optional(attributes, "enclave.audit.target", event.target)
            _optional(attributes, "enclave.audit.reason", event.reason)
            _optional(attributes, "enclave.request_id", event.request_id)
            _optional(attributes, "enclave.trace_id", event.trace_id)
            self._logger.emit(
                LogRecord(
                    timestamp=int(record.time.timestamp() * 1_000_000) * 1000,
                    event_name=event.action,
                    severity_number=severity,
                    severity_text=severity_text,
                    body=record.body.decode(),
                    attributes=attributes,
                )
            )
