"""``dctenant report``: gather what a report needs, build it, render it, record its issue, reproduce it.

The figures are computed purely (``engine.tallying``); this module does the reading: the
quotas (envelopes per day, licences, names), the ledger (events up to a fixed position, and the
hash of the last one covered) and the stored snapshots (usage and traffic), whose digests are
checked against what the ledger recorded when they were taken. "Now", the ledger position and
the snapshot versions are inputs recorded in the report itself, so ``reproduce`` can recompute
an issued report from them and say whether it comes out identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import dctenant
from dctenant.clients import files, ledger_db, snapshot_db
from dctenant.domain import allocations, audit_events, periods, quotas, reports, snapshots
from dctenant.engine import tallying
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import auditing, planning
from dctenant.render.reports import cells, csv_form, html_form, json_form

FORMATS = ("table", "csv", "json", "html")


def period(text: str, *, calendar: str = periods.GREGORIAN, zone: str | None = None) -> periods.Period:
    return periods.parse(text, calendar=calendar, zone=zone)


def snapshot_command(period: periods.Period) -> str:
    """A ``dctenant snapshot`` command that takes a snapshot of exactly ``period`` (one that works as written)."""
    calendar = " --calendar jalali" if period.calendar == periods.JALALI else ""
    if period.calendar == periods.GREGORIAN and period.zone == periods.DEFAULT_ZONES[periods.JALALI]:
        calendar = " --calendar jalali"
    default = periods.DEFAULT_ZONES[periods.JALALI if calendar else periods.GREGORIAN]
    zone = f" --timezone {period.zone}" if period.zone != default else ""
    return f"dctenant snapshot{calendar}{zone} --period {period.label} --prometheus URL"


def build(kind: str, *, path: str, period: periods.Period, now: dt.datetime, ledger: ledger_db.Ledger,
          tenant: str | None = None, ledger_seq: int | None = None,
          snapshot_ids: Sequence[int] | None = None) -> reports.Report:
    """Build report ``kind`` for ``period`` as of ``now``.

    The ledger is read up to event ``ledger_seq`` (default: the last one recorded before ``now``)
    and usage from the snapshots ``snapshot_ids`` (default: the newest version covering the period).
    """
    if kind not in reports.KINDS:
        raise UserError(f"no report {kind!r}; choose one of {', '.join(reports.KINDS)}")
    if period.start >= now:
        raise UserError(f"period {period.label} starts {audit_events.stamp(period.start)}, after the report's "
                        "time: there is nothing to report yet; ask again once it has started", location="--period")
    model = loading.load(path)
    if tenant is not None and tenant not in {t.id for t in model.tenants}:
        raise UserError(f"no tenant {tenant!r} in {path}", location="--tenant")
    at = min(period.last_day, now.date())
    if ledger_seq is None:
        last = ledger.last_event(until=now + dt.timedelta(microseconds=1))
    else:
        last = ledger.event(ledger_seq) if ledger_seq > 0 else None
        if ledger_seq > 0 and last is None:
            raise UserError(f"the ledger at {ledger.url} has no event {ledger_seq}, which the report covered")
    bound = last.seq if last else 0
    sources = [reports.Source(name="quotas", detail=f"{path} ({len(model.tenants)} tenants, as of {at})"),
               reports.Source(name="ledger", detail=f"{ledger.url} (events 1..{bound})")]
    inputs: dict[str, Any] = {"quotas": path, "tenant": tenant, "ledgerSeq": bound, "calendar": period.calendar,
                              "zone": period.zone, "dctenantVersion": dctenant.__version__}
    warnings: list[str] = []
    partial = False
    sections: tuple[reports.Section, ...]
    if kind == "allocation":
        allocation = planning.allocate(model, at=at)
        sections, warnings = tallying.allocation(model, allocation), list(allocation.warnings)
    elif kind in ("usage", "traffic"):
        chosen = _choose(snapshot_db.open_snapshots(ledger), period, snapshot_ids)
        rollups, until = _rollups(ledger, chosen, sources, warnings)
        partial = any(i.partial for i in chosen)
        inputs["snapshots"] = [_described(i) for i in chosen]
        envelopes = daily_envelopes(model, period=period, until=min(until, now))
        if kind == "usage":
            sections = tallying.usage(envelopes, rollups)
        else:
            served = sorted({k[0] for values in envelopes.values() for k, v in values.items() if v > 0})
            sections = tallying.traffic(rollups, tenants=served)
        if partial:
            warnings.insert(0, f"PARTIAL: the snapshot was taken before {period.label} ended; figures cover "
                               f"{audit_events.stamp(period.start)} to {audit_events.stamp(until)} only "
                               f"(the period ends {audit_events.stamp(period.end)}); re-take it after the end")
    elif kind == "violations":
        events = [e for e in ledger.events(kinds=tallying.VIOLATION_KINDS, since=period.start,
                                           until=min(period.end, now + dt.timedelta(microseconds=1)))
                  if e.seq <= bound]
        sections = tallying.violations(events, period=period, now=now)
    else:
        events = [e for e in ledger.events(kinds=(audit_events.LICENCE_CHANGED, audit_events.ACTION_TAKEN,
                                                  audit_events.ACTION_UNDONE),
                                           since=period.start, until=period.end) if e.seq <= bound]
        sections = tallying.licences(model, at=at, events=events)
    if tenant is not None:
        sections = tuple(_only(s, tenant) for s in sections)
    sources.append(auditing.report_source(ledger, up_to=bound))  # the newest signed checkpoint it covers (issue 15)
    warnings += _coverage_warnings(sections)
    return tallying.report(kind=kind, period=period, now=now, sections=sections, sources=sources, last=last,
                           model=_named(model, tenant), warnings=warnings, partial=partial, inputs=inputs)


def daily_envelopes(model: quotas.Quotas, *, period: periods.Period,
                    until: dt.datetime) -> dict[dt.date, dict[tallying.Key, Decimal]]:
    """Each day's envelopes (licence state and plan as of that day), for the days begun before ``until``.

    The allocation depends on the day only through the tenants' licence states, so it is
    computed once per distinct set of states, not once per day.
    """
    rules = model.policy.licences
    by_states: dict[tuple[str, ...], dict[tallying.Key, Decimal]] = {}
    out: dict[dt.date, dict[tallying.Key, Decimal]] = {}
    for day, start, _ in period.day_bounds():
        if start >= until:
            break
        states = tuple(t.licence.state(at=day, rules=rules).value for t in model.tenants)
        if states not in by_states:
            by_states[states] = _envelopes(planning.allocate(model, at=day))
        out[day] = by_states[states]
    return out


def _envelopes(result: allocations.Allocation) -> dict[tallying.Key, Decimal]:
    return {(tid, pool, key): value for tid, t in result.tenants.items() for pool, s in t.shares.items()
            for key, value in s.envelope.items()}


def _coverage_warnings(sections: Sequence[reports.Section]) -> list[str]:
    out = []
    for section in sections:
        statuses = [r.get("status") for r in section.rows if "status" in r]
        missing = statuses.count(tallying.NO_DATA)
        partly = statuses.count(tallying.PARTIAL)
        if missing:
            out.append(f"{section.name}: {missing} row(s) have no data at all: their figures are null "
                       "(\"no data\"), not zero")
        if partly:
            out.append(f"{section.name}: {partly} row(s) have data for only part of the period (coverage < 100 %): "
                       "their averages cover only the time with data")
    return out


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


def _choose(store: snapshot_db.Snapshots, period: periods.Period,
            snapshot_ids: Sequence[int] | None) -> list[snapshots.SnapshotInfo]:
    """The recorded versions, else the newest version of exactly the period, else of each of its months."""
    if snapshot_ids is not None:
        return [store.info(i) for i in snapshot_ids]
    exact = store.latest(period)
    if exact is not None:
        return [exact]
    wanted = periods.months(period)
    found = [store.latest(m) for m in wanted]
    if not wanted or None in found or wanted[0].start != period.start or wanted[-1].end != period.end:
        missing = [m.label for m, i in zip(wanted, found, strict=True) if i is None]
        months = f" (or one for each missing month: {', '.join(missing)})" if missing else ""
        raise UserError(f"no usage snapshot covers {period.label}; take one with `{snapshot_command(period)}`"
                        f"{months} while Prometheus still holds the data")
    return [i for i in found if i is not None]


def _described(info: snapshots.SnapshotInfo) -> dict[str, Any]:
    return {"id": info.id, "version": info.version, "label": info.label, "calendar": info.calendar,
            "zone": info.zone, "start": audit_events.stamp(info.start), "end": audit_events.stamp(info.end),
            "sha256": info.digest, "ledgerEvent": info.seq, "partial": info.partial,
            "evaluatedUntil": audit_events.stamp(info.evaluated_until or info.end),
            "takenAt": audit_events.stamp(info.taken_at), "source": info.source, "provenance": dict(info.provenance)}


def _rollups(ledger: ledger_db.Ledger, chosen: Sequence[snapshots.SnapshotInfo], sources: list[reports.Source],
             warnings: list[str]) -> tuple[tuple[snapshots.Rollup, ...], dt.datetime]:
    """The chosen snapshots' rollups combined, and where the last one's evaluation stopped."""
    store = snapshot_db.open_snapshots(ledger)
    parts: list[tuple[periods.Period, Sequence[snapshots.Rollup]]] = []
    for info in chosen:
        rows = store.rollups(snapshot=info.id)
        digest = snapshot_db.digest(rows)
        recorded = ledger.event(info.seq)
        chained = recorded.after.get("digest") if recorded and isinstance(recorded.after, dict) else None
        if digest != info.digest or digest != chained:
            warnings.append(f"snapshot {info.label} version {info.version} does not match the digest the ledger "
                            f"recorded in event {info.seq}: its rows were changed after it was taken")
        until = min(info.evaluated_until or info.end, info.end)
        partial = f"; PARTIAL, evaluated until {audit_events.stamp(until)}" if info.partial else ""
        sources.append(reports.Source(name=f"snapshot {info.label} v{info.version}", detail=(
            f"id {info.id}, version {info.version}; taken {audit_events.stamp(info.taken_at)} from {info.source}; "
            f"{info.rows} rows; sha256 {info.digest}; ledger event {info.seq}{partial}")))
        parts.append((periods.Period(label=info.label, start=info.start, end=until), rows))
    return tallying.combine(parts), max(p.end for p, _ in parts)


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
    """Write the report to ``out`` and record in the ledger that it was issued, with its SHA-256.

    The issue event comes after the position the report covers (``ledgerSeq`` in its inputs), so
    recomputing the report from its inputs does not count its own issue.
    """
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


# -- reproduce -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Reproduction:
    """The outcome of recomputing an issued report from the inputs it recorded."""

    file: str
    form: str
    identical: bool
    differences: tuple[str, ...]
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.form, "identical": self.identical,
                "differences": list(self.differences), "sha256": self.sha256}


def reproduce(file: str, *, ledger: ledger_db.Ledger) -> Reproduction:
    """Recompute the report in ``file`` (its JSON or CSV form) from its recorded inputs and compare."""
    import pathlib

    text = files.read_text(pathlib.Path(file))
    if text is None:
        raise UserError(f"cannot read {file}", location="--reproduce")
    form, recorded = _recorded(text, file)
    if recorded["kind"] in reports.PLANNING_KINDS:
        raise UserError(f"{file} is a {recorded['kind']} report: it reads Prometheus, whose data ages out, so it "
                        "cannot be recomputed; its inputs name what it read (docs/planning.md)", location="--reproduce")
    try:
        inputs = recorded["inputs"]
        chosen = periods.Period(label=recorded["label"], calendar=recorded["calendar"], zone=recorded["zone"],
                                start=audit_events.parse_stamp(recorded["start"]),
                                end=audit_events.parse_stamp(recorded["end"]))
        now = audit_events.parse_stamp(recorded["generatedAt"])
        snapshot_ids = [int(s["id"]) for s in inputs["snapshots"]] if "snapshots" in inputs else None
        report = build(recorded["kind"], path=inputs["quotas"], period=chosen, now=now, ledger=ledger,
                       tenant=inputs.get("tenant"), ledger_seq=int(inputs["ledgerSeq"]), snapshot_ids=snapshot_ids)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{file} does not record the inputs a report needs ({exc}); only reports written by "
                        "dctenant with schemaVersion 2 or later can be reproduced", location="--reproduce") from None
    again = render(report, output=form, style=cells.Style())
    if form == "json":
        differences = _differences(json.loads(text), json.loads(again))
    else:
        differences = _line_differences(text, again)
    return Reproduction(file=file, form=form, identical=again == text, differences=tuple(differences),
                        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _recorded(text: str, file: str) -> tuple[str, dict[str, Any]]:
    """The form of an issued report and its recorded kind, period, time and inputs."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
            p = data["period"]
            return "json", {"kind": data["report"], "label": p["label"], "calendar": p["calendar"],
                            "zone": p.get("zone", "UTC"), "start": p["start"], "end": p["end"],
                            "generatedAt": data["generatedAt"], "inputs": data["inputs"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{file} is not a dctenant JSON report with recorded inputs ({exc})",
                            location="--reproduce") from None
    if stripped.startswith("section,key,value"):
        import csv
        import io

        meta = {row[1]: row[2] for row in csv.reader(io.StringIO(text)) if row and row[0] == "meta"}
        try:
            return "csv", {"kind": meta["report"], "label": meta["period"], "calendar": meta["calendar"],
                           "zone": meta.get("zone", "UTC"), "start": meta["periodStart"], "end": meta["periodEnd"],
                           "generatedAt": meta["generatedAt"], "inputs": json.loads(meta["inputs"])}
        except (KeyError, ValueError) as exc:
            raise UserError(f"{file} is not a dctenant CSV report with recorded inputs ({exc})",
                            location="--reproduce") from None
    raise UserError(f"{file}: only the JSON and CSV forms record their inputs; reproduce the JSON or CSV issued "
                    "beside an HTML report", location="--reproduce")


def _differences(was: Any, now: Any, where: str = "") -> list[str]:
    if isinstance(was, Mapping) and isinstance(now, Mapping):
        out = []
        for key in sorted(set(was) | set(now)):
            at = f"{where}.{key}" if where else str(key)
            if key not in now:
                out.append(f"{at}: in the file, not recomputed")
            elif key not in was:
                out.append(f"{at}: recomputed, not in the file")
            else:
                out += _differences(was[key], now[key], at)
        return out
    if isinstance(was, list) and isinstance(now, list):
        out = []
        for i, (a, b) in enumerate(zip(was, now, strict=False)):
            out += _differences(a, b, f"{where}[{i}]")
        if len(was) != len(now):
            out.append(f"{where}: {len(was)} items in the file, {len(now)} recomputed")
        return out
    return [] if was == now else [f"{where}: file {was!r}, recomputed {now!r}"]


def _line_differences(was: str, now: str) -> list[str]:
    a, b = was.splitlines(), now.splitlines()
    out = [f"line {i + 1}: file {x!r}, recomputed {y!r}" for i, (x, y) in enumerate(zip(a, b, strict=False))
           if x != y]
    if len(a) != len(b):
        out.append(f"{len(a)} lines in the file, {len(b)} recomputed")
    return out
