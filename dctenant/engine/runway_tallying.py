"""Forecasts and reclaim rows → report sections: the rows and charts of ``report forecast`` and ``report reclaim``.

Pure: no clock, file or network. Auditors get the planning figures in the same report shape as
the other reports (``domain.reports``), so one set of writers serves table, CSV, JSON and HTML.
A figure that could not be computed stays ``None`` and its row's status says why in words:
a runway without enough history is "unknown", not "never runs out"; a tenant Prometheus had no
series for has "no data", not a need of zero.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from dctenant.domain import forecasts, reclaim, reports, resources, whatif
from dctenant.engine import forecasting

RUNS_OUT, MAY_RUN_OUT, BEYOND = "runs out", "may run out", "beyond horizon"
# A chart's band is drawn from at most this many samples; longer spans are sampled every few weeks.
_BAND_SAMPLES = 120


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else resources.plain(value)


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def runway_status(f: forecasts.Forecast) -> str:
    """In words: unknown (too little history), runs out (the trend reaches the limit within the horizon),
    may run out (only the interval's upper edge does) or beyond horizon."""
    if f.trend is None:
        return reports.UNKNOWN
    if f.crossing is not None:
        return RUNS_OUT
    return MAY_RUN_OUT if f.earliest is not None else BEYOND


def forecast(items: Sequence[forecasts.Forecast], *, today: dt.date, horizon_days: int) -> tuple[reports.Section, ...]:
    """One row and one runway chart per pool, resource and series."""
    c = reports.Column
    rows = []
    for f in items:
        used = None if f.current is None or not f.limit else f.current / f.limit
        rows.append({
            "pool": f.pool, "resource": f.resource, "series": f.series, "points": f.points,
            "current": _plain(f.current), "limit": resources.plain(f.limit),
            "used": None if used is None else f"{used:.4f}",
            "exhausted": _day(f.crossing), "earliest": _day(f.earliest), "latest": _day(f.latest),
            "slopePerDay": None if f.trend is None else f"{f.trend.slope:.6g}",
            "status": runway_status(f), "note": f.problem or None})
    beyond = "beyond horizon"
    columns = (c(key="pool", title="Pool"), c(key="resource", title="Resource"), c(key="series", title="Series"),
               c(key="points", title="Daily points", kind=reports.INTEGER),
               c(key="current", title="Now", kind=reports.AMOUNT), c(key="limit", title="Limit", kind=reports.AMOUNT),
               c(key="used", title="Used", kind=reports.FRACTION),
               c(key="exhausted", title="Runs out", kind=reports.DATE, empty=beyond),
               c(key="earliest", title="Earliest (80 %)", kind=reports.DATE, empty=beyond),
               c(key="latest", title="Latest (80 %)", kind=reports.DATE, empty=beyond),
               c(key="slopePerDay", title="Trend per day", kind=reports.AMOUNT),
               c(key="status", title="Status"), c(key="note", title="Why unknown"))
    end = today + dt.timedelta(days=horizon_days)
    plots = tuple(_runway(f, today=today, end=end) for f in items)
    return (reports.Section(name="runway", title="Runway per pool and resource (80 % interval)", columns=columns,
                            rows=tuple(rows), plots=plots),)


def _runway(f: forecasts.Forecast, *, today: dt.date, end: dt.date) -> reports.Runway:
    history = tuple((p.day, float(p.value)) for p in f.history)
    band: list[tuple[dt.date, float, float, float]] = []
    if f.trend is not None:
        first = min((p.day for p in f.history), default=today)
        span = (end - first).days
        step = 1 if span <= _BAND_SAMPLES else 7 * math.ceil(span / _BAND_SAMPLES / 7)  # whole weeks: same weekday
        days = [first + dt.timedelta(days=i) for i in range(0, span + 1, step)]
        if days[-1] != end:
            days.append(end)
        band = [(d, *forecasting.predict(f.trend, d)) for d in days]
    series = "demand" if f.series == forecasts.DEMAND else "usage"
    limit = "allocatable" if f.series == forecasts.DEMAND else "envelopes"
    return reports.Runway(title=f"{f.pool} · {f.resource} · {series} against {limit}", unit=f.resource,
                          today=today, history=history, band=tuple(band), limit=float(f.limit), crossing=f.crossing,
                          earliest=f.earliest, latest=f.latest, end=end, note=f.problem)


def reclaim_rows(rows: Sequence[reclaim.Row], gains: Iterable[whatif.EnvelopeChange]) -> tuple[reports.Section, ...]:
    """Envelope against observed need per tenant, pool and resource, with one chart per pool and resource;
    then what the others would gain if every proposal were made."""
    c = reports.Column
    out = []
    for r in rows:
        status = reports.NO_DATA if r.need is None else ("complete" if r.coverage >= 1 else "partial")
        out.append({
            "tenant": r.tenant, "pool": r.pool, "resource": r.resource, "envelope": resources.plain(r.envelope),
            "demand": resources.plain(r.demand), "statistic": r.statistic, "observed": _plain(r.observed),
            "need": _plain(r.need), "idle": _plain(r.idle),
            "idleRatio": None if r.idle_ratio is None else f"{r.idle_ratio:.4f}",
            "coverage": f"{r.coverage:.4f}", "proposed": _plain(r.proposed), "heldBy": r.held or None,
            "status": status})
    columns = (c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"),
               c(key="resource", title="Resource"), c(key="envelope", title="Envelope", kind=reports.AMOUNT),
               c(key="demand", title="Demand", kind=reports.AMOUNT), c(key="statistic", title="Statistic"),
               c(key="observed", title="Observed", kind=reports.AMOUNT),
               c(key="need", title="Need", kind=reports.AMOUNT), c(key="idle", title="Idle", kind=reports.AMOUNT),
               c(key="idleRatio", title="Idle share", kind=reports.FRACTION),
               c(key="coverage", title="Window seen", kind=reports.COVERAGE),
               c(key="proposed", title="Proposed demand", kind=reports.AMOUNT, empty="none"),
               c(key="heldBy", title="Held by"), c(key="status", title="Status"))
    charts: dict[tuple[str, str], list[reports.Need]] = {}
    for r in rows:
        charts.setdefault((r.pool, r.resource), []).append(reports.Need(
            label=r.tenant, envelope=float(r.envelope), need=None if r.need is None else float(r.need)))
    order = {k: i for i, k in enumerate(resources.ordered({r.resource for r in rows}))}
    plots = tuple(reports.NeedChart(title=f"{pool} · {key}: envelope and observed need", unit=key, needs=tuple(n))
                  for (pool, key), n in sorted(charts.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])))
    gain_rows = tuple({"tenant": g.tenant, "pool": g.pool, "resource": g.resource, "before": _plain(g.before),
                       "after": _plain(g.after), "delta": resources.plain((g.after or Decimal(0))
                                                                          - (g.before or Decimal(0)))}
                      for g in gains)
    gain_columns = (c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"),
                    c(key="resource", title="Resource"), c(key="before", title="Envelope now", kind=reports.AMOUNT),
                    c(key="after", title="If proposals are made", kind=reports.AMOUNT),
                    c(key="delta", title="Gain", kind=reports.AMOUNT))
    return (reports.Section(name="reclaim", title="Envelope against observed need", columns=columns,
                            rows=tuple(out), plots=plots),
            reports.Section(name="gains", title="What the others would gain (plan --what-if on the proposals)",
                            columns=gain_columns, rows=gain_rows))
