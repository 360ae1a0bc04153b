"""The JSON form of a report: a stable schema (docs/reports.md) with exact values and provenance."""

from __future__ import annotations

import json
from typing import Any

from dctenant.domain import audit_events, reports


def as_dict(report: reports.Report) -> dict[str, Any]:
    return {
        "kind": "DctenantReport",
        "schemaVersion": reports.SCHEMA_VERSION,
        "report": report.kind,
        "title": report.title,
        "partial": report.partial,
        "period": {"label": report.period.label, "calendar": report.period.calendar, "zone": report.period.zone,
                   "start": audit_events.stamp(report.period.start), "end": audit_events.stamp(report.period.end)},
        "generatedAt": audit_events.stamp(report.generated_at),
        "sources": [{"name": s.name, "detail": s.detail} for s in report.sources],
        "ledger": {"lastHash": report.ledger_hash, "lastSeq": report.ledger_seq},
        "names": {k: dict(v) for k, v in sorted(report.names.items())},
        "warnings": list(report.warnings),
        "inputs": dict(report.inputs),
        "sections": {s.name: {"title": s.title, "columns": [c.key for c in s.columns],
                              "rows": [{c.key: row.get(c.key) for c in s.columns} for row in s.rows]}
                     for s in report.sections},
    }


def render(report: reports.Report) -> str:
    return json.dumps(as_dict(report), ensure_ascii=False, indent=2) + "\n"
