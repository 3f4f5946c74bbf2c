"""`enclave audit`: export, verify, prove, sync and retain the tamper-evident audit log (docs/audit.md)."""

from __future__ import annotations

from enclave.cli.audit import log, proofs, sync, verify
from enclave.cli.audit.app import audit_app

__all__ = ["audit_app", "log", "proofs", "sync", "verify"]
