"""The CSV form of a report: one rectangular file, every section in it, provenance first.

Spreadsheet users want one file; tools want a fixed header. So the header is ``section`` followed
by the union of every section's columns (in a fixed order per report kind, docs/reports.md), a
row fills only its section's columns, and the first rows (section ``meta``) carry the period,
generation time, sources and ledger hash as ``key``/``value`` pairs.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from dctenant.domain import audit_events, reports


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def meta(report: reports.Report) -> list[tuple[str, str]]:
    pairs = [("report", report.kind), ("schemaVersion", str(reports.SCHEMA_VERSION)),
             ("partial", _cell(report.partial)), ("period", report.period.label),
             ("calendar", report.period.calendar), ("zone", report.period.zone),
             ("periodStart", audit_events.stamp(report.period.start)), ("periodEnd",
                                                                        audit_events.stamp(report.period.end)),
             ("generatedAt", audit_events.stamp(report.generated_at)),
             ("ledgerLastHash", report.ledger_hash or ""), ("ledgerLastSeq", _cell(report.ledger_seq))]
    pairs += [(f"source.{s.name}", s.detail) for s in report.sources]
    pairs += [("warning", w) for w in report.warnings]
    pairs.append(("inputs", json.dumps(report.inputs, ensure_ascii=False, sort_keys=True, separators=(",", ":"))))
    return pairs


def render(report: reports.Report) -> str:
    header = ["section", "key", "value"]
    for section in report.sections:
        header += [c.key for c in section.columns if c.key not in header]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    blank = dict.fromkeys(header, "")
    for key, value in meta(report):
        writer.writerow({**blank, "section": "meta", "key": key, "value": value}.values())
    for section in report.sections:
        for row in section.rows:
            line = {**blank, "section": section.name}
            line.update({c.key: _cell(row.get(c.key)) for c in section.columns})
            writer.writerow(line.values())
    return out.getvalue()
