"""``dctenant report``: gather what a report needs, build it, render it, and record its issue.

The figures are computed purely (``engine.tallying``); this module does the reading: the
quotas (envelopes, licences, names), the ledger (events, and the hash of the last one covered)
and the stored snapshots (usage and traffic), whose digests are checked against what the ledger
recorded when they were taken. "Now" is a parameter, so a report can be reproduced exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from dctenant.clients import files, ledger_db, snapshot_db
from dctenant.domain import audit_events, periods, quotas, reports, snapshots
from dctenant.engine import tallying
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import calendars
from dctenant.render.reports import cells, csv_form, html_form, json_form

FORMATS = ("table", "csv", "json", "html")


def period(text: str, *, calendar: str = calendars.GREGORIAN) -> periods.Period:
    return calendars.parse_period(text, calendar=calendar)


def build(kind: str, *, path: str, period: periods.Period, now: dt.datetime, ledger: ledger_db.Ledger,
          tenant: str | None = None) -> reports.Report:
    """Build report ``kind`` for ``period`` as of ``now`` (which bounds the ledger events it covers)."""
    if kind not in reports.KINDS:
        raise UserError(f"no report {kind!r}; choose one of {', '.join(reports.KINDS)}")
    model = loading.load(path)
    if tenant is not None and tenant not in {t.id for t in model.tenants}:
        raise UserError(f"no tenant {tenant!r} in {path}", location="--tenant")
    at = min(period.last_day, now.date())
    last = ledger.last_event(until=now + dt.timedelta(microseconds=1))
    sources = [reports.Source(name="quotas", detail=f"{path} ({len(model.tenants)} tenants, as of {at})"),
               reports.Source(name="ledger", detail=f"{ledger.url} (events 1..{last.seq if last else 0})")]
    warnings: list[str] = []
    sections: tuple[reports.Section, ...]
    if kind == "allocation":
        allocation = planning.allocate(model, at=at)
        sections, warnings = tallying.allocation(model, allocation), list(allocation.warnings)
    elif kind in ("usage", "traffic"):
        rollups = _rollups(ledger, period, sources, warnings)
        if kind == "usage":
            sections = tallying.usage(planning.allocate(model, at=at), rollups)
        else:
            sections = tallying.traffic(rollups)
    elif kind == "violations":
        events = list(ledger.events(kinds=tallying.VIOLATION_KINDS, since=period.start,
                                    until=min(period.end, now + dt.timedelta(microseconds=1))))
        sections = tallying.violations(events, period=period, now=now)
    else:
        events = list(ledger.events(kinds=(audit_events.LICENCE_CHANGED, audit_events.ACTION_TAKEN,
                                           audit_events.ACTION_UNDONE),
                                    since=period.start, until=period.end))
        sections = tallying.licences(model, at=at, events=events)
    if tenant is not None:
        sections = tuple(_only(s, tenant) for s in sections)
    return tallying.report(kind=kind, period=period, now=now, sections=sections, sources=sources, last=last,
                            model=_named(model, tenant), warnings=warnings)


def _named(model: quotas.Quotas, tenant: str | None) -> quotas.Quotas:
    if tenant is None:
        return model
    return quotas.Quotas(datacentre=model.datacentre, policy=model.policy,
                         tenants=tuple(t for t in model.tenants if t.id == tenant))


def _only(section: reports.Section, tenant: str) -> reports.Section:
    if not any(c.key == "tenant" for c in section.columns):
        return section
    chart = section.chart
    if chart is not None:
        chart = reports.Chart(title=chart.title, unit=chart.unit,
                              bars=tuple(b for b in chart.bars if b.label == tenant))
    return reports.Section(name=section.name, title=section.title, columns=section.columns, chart=chart,
                           rows=tuple(r for r in section.rows if r.get("tenant") == tenant))


def _rollups(ledger: ledger_db.Ledger, period: periods.Period, sources: list[reports.Source],
             warnings: list[str]) -> tuple[snapshots.Rollup, ...]:
    """The period's snapshot, or the monthly snapshots that make it up; digests checked against the ledger."""
    store = snapshot_db.open_snapshots(ledger)
    exact = store.latest(period)
    if exact is not None:
        chosen = [exact]
    else:
        wanted = periods.months(period)
        found = {m.label: store.latest(m) for m in wanted}
        missing = [label for label, info in found.items() if info is None]
        if not wanted or missing or wanted[0].start != period.start or wanted[-1].end != period.end:
            need = ", ".join(missing) or period.label
            raise UserError(f"no usage snapshot covers {period.label}; run `dctenant snapshot --period {need}` "
                            "while Prometheus still holds the data")
        chosen = [i for i in found.values() if i is not None]
    parts: list[tuple[periods.Period, Sequence[snapshots.Rollup]]] = []
    for info in chosen:
        rows = store.rollups(snapshot=info.id)
        digest = snapshot_db.digest(rows)
        recorded = ledger.event(info.seq)
        chained = recorded.after.get("digest") if recorded and isinstance(recorded.after, dict) else None
        if digest != info.digest or digest != chained:
            warnings.append(f"snapshot {info.label} does not match the digest the ledger recorded in event "
                            f"{info.seq}: its rows were changed after it was taken")
        sources.append(reports.Source(name=f"snapshot {info.label}", detail=(
            f"taken {audit_events.stamp(info.taken_at)} from {info.source}; {info.rows} rows; sha256 {info.digest}; "
            f"ledger event {info.seq}")))
        parts.append((periods.Period(label=info.label, start=info.start, end=info.end), rows))
    return tallying.combine(parts)


@dataclass(frozen=True, kw_only=True)
class Issued:
    path: str
    sha256: str
    event: audit_events.LedgerEvent


def render(report: reports.Report, *, output: str, style: cells.Style) -> str:
    """The report as CSV, JSON or HTML text (the table form is drawn by the CLI)."""
    if output == "csv":
        return csv_form.render(report)
    if output == "json":
        return json_form.render(report)
    if output == "html":
        return html_form.render(report, style=style)
    raise UserError(f"no file format {output!r}; choose csv, json or html", location="--output")


def issue(report: reports.Report, *, text: str, out: str, output: str, ledger: ledger_db.Ledger, actor: str,
          now: dt.datetime, tenant: str | None = None) -> Issued:
    """Write the report to ``out`` and record in the ledger that it was issued, with its SHA-256."""
    import pathlib

    data = text.encode("utf-8")
    files.write_atomically(pathlib.Path(out), data)
    digest = hashlib.sha256(data).hexdigest()
    subject = {"report": report.kind, "period": report.period.label, **({"tenant": tenant} if tenant else {})}
    event = ledger.append(kind=audit_events.REPORT_ISSUED, actor=actor, subject=subject, at=now,
                          after={"format": output, "file": pathlib.Path(out).name, "sha256": digest,
                                 "covers": report.ledger_hash, "coversSeq": report.ledger_seq},
                          reason=f"{report.title} {report.period.label}")
    return Issued(path=out, sha256=digest, event=event)
