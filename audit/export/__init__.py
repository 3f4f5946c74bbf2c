"""Export formats: signed JSONL (verifiable offline), CSV for spreadsheets, OCSF for SIEMs."""

from audit.export.csv_format import write_csv
from audit.export.jsonl import ExportHeader, ExportSummary, InvalidExportError, write_jsonl
from audit.export.ocsf import write_ocsf

__all__ = ["ExportHeader", "ExportSummary", "InvalidExportError", "write_csv", "write_jsonl", "write_ocsf"]
