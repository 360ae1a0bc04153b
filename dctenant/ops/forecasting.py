"""``dctenant forecast``: when each pool's demand outgrows its allocatable, and usage its envelopes.

Demand history is the ledger's: ``forecast --record`` (run daily, e.g. by the same scheduler as
``snapshot``) appends one ``plan-recorded`` event per pool with the served tenants' total demand and
the allocatable of each resource, at most once a day. Usage history is Prometheus': each pool's
daily peak of measured usage. Both are fitted by ``engine.forecasting`` (docs/planning.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.clients import ledger_db, need_history, prometheus
from dctenant.domain import allocations, audit_events, forecasts, resources
from dctenant.engine import forecasting
from dctenant.loaders import loading
from dctenant.ops import planning

PLAN_RECORDED = audit_events.PLAN_RECORDED
HORIZON_DAYS = 365  # what ``forecast --horizon 12m`` looks ahead
MIN_POINTS = forecasting.MIN_POINTS  # daily points a forecast needs (fewer: "too little history")


@dataclass(frozen=True, kw_only=True)
class ForecastResult:
    today: dt.date
    horizon_days: int
    forecasts: tuple[forecasts.Forecast, ...]
    recorded: int  # plan-recorded events appended by this run
    sources: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        def day(d: dt.date | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "kind": "Forecast", "today": self.today.isoformat(), "horizonDays": self.horizon_days,
            "sources": list(self.sources), "recorded": self.recorded,
            "forecasts": [{
                "pool": f.pool, "resource": f.resource, "series": f.series, "points": f.points,
                "current": None if f.current is None else resources.plain(f.current),
                "limit": resources.plain(f.limit), "exhausted": day(f.crossing), "earliest": day(f.earliest),
                "latest": day(f.latest),
                "slopePerDay": None if f.trend is None else f"{f.trend.slope:.6g}",
                "problem": f.problem or None,
            } for f in self.forecasts],
        }


def demand_totals(allocation: allocations.Allocation) -> dict[str, dict[str, dict[str, str]]]:
    """Per pool and resource: the served tenants' total demand and the allocatable, as plain strings."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for pool in allocation.pools.values():
        totals: dict[str, Decimal] = {}
        for tenant in allocation.tenants.values():
            share = tenant.shares.get(pool.name)
            if share is None or tenant.state == "suspended":
                continue
            for key, value in share.demand.items():
                totals[key] = totals.get(key, Decimal(0)) + value
        out[pool.name] = {r.key: {"demand": resources.plain(totals.get(r.key, Decimal(0))),
                                  "allocatable": resources.plain(r.allocatable)} for r in pool.resources}
    return out


def forecast(path: str, *, today: dt.date, horizon_days: int, ledger: str | None = None, record: bool = False,
             url: str | None = None, config: str | None = None, history_days: int = 90,
             now: dt.datetime | None = None, ask: prometheus.Asker | None = None,
             opened_ledger: ledger_db.Ledger | None = None) -> ForecastResult:
    """Forecast every pool and resource; ``record`` first appends today's plan totals to the ledger.

    ``opened_ledger``, when given, is read (and written) instead of opening ``ledger``: ``report forecast``
    reads the ledger it has already opened (a PostgreSQL URL cannot be reopened from its redacted form)."""
    model = loading.load(path)
    allocation = planning.allocate(model, at=today)
    current = demand_totals(allocation)
    history: list[audit_events.LedgerEvent] = []
    recorded = 0
    sources = []
    if ledger is not None or record or opened_ledger is not None:
        source = contextlib.nullcontext(opened_ledger) if opened_ledger is not None else ledger_db.open_ledger(ledger)
        with source as opened:
            history = list(opened.events(kinds=[PLAN_RECORDED]))
            if record:
                seen = {(e.subject.get("pool"), _day(e)) for e in history}
                for pool, totals in current.items():
                    if (pool, today) not in seen:
                        history.append(opened.append(kind=PLAN_RECORDED, actor=ledger_db.os_actor(),
                                                     subject={"pool": pool, "asOf": today.isoformat()},
                                                     after=totals, reason="dctenant forecast --record"))
                        recorded += 1
        sources.append(f"ledger: {len(history)} plan-recorded event(s)")
    out = _demand_forecasts(history, current, today=today, horizon_days=horizon_days)
    if url:
        client = prometheus.Prometheus(prometheus.settings(url, config=config), ask=ask)
        pools = {ns.name: ns.pool for t in model.tenants for ns in t.namespaces}
        at = now or dt.datetime.combine(today, dt.time(), dt.UTC)
        usage = need_history.daily_peaks(client, pools=pools, days=history_days, at=at)
        envelopes = _envelope_totals(allocation)
        for (pool, key), series in sorted(usage.items()):
            if (pool, key) in envelopes:
                out.append(forecasting.forecast(series, pool=pool, resource=key, series=forecasts.USAGE,
                                                limit=envelopes[pool, key], today=today, horizon_days=horizon_days))
        sources.append(f"prometheus: {prometheus.redact(url)}, {history_days} days of daily peaks")
    order = {r: i for i, r in enumerate(resources.ordered({f.resource for f in out}))}
    out.sort(key=lambda f: (f.pool, order[f.resource], f.series))
    return ForecastResult(today=today, horizon_days=horizon_days, forecasts=tuple(out), recorded=recorded,
                          sources=tuple(sources))


def demand_runway(allocation: allocations.Allocation, *, ledger: ledger_db.Ledger,
                  horizon_days: int = HORIZON_DAYS) -> tuple[forecasts.Forecast, ...]:
    """Per pool and resource, when the served tenants' total demand is forecast to exceed the allocatable:
    the ``plan-recorded`` history of ``ledger``, already open, and today's point from ``allocation`` (its day).

    The portal's staff page passes the ledger its service holds: a PostgreSQL ledger's URL is only known
    with its password hidden, so it could not be opened again from it. Nothing is written.
    """
    history = list(ledger.events(kinds=[PLAN_RECORDED]))
    out = _demand_forecasts(history, demand_totals(allocation), today=allocation.at, horizon_days=horizon_days)
    order = {r: i for i, r in enumerate(resources.ordered({f.resource for f in out}))}
    return tuple(sorted(out, key=lambda f: (f.pool, order[f.resource])))


def _demand_forecasts(history: list[audit_events.LedgerEvent], current: Mapping[str, Mapping[str, Mapping[str, str]]],
                      *, today: dt.date, horizon_days: int) -> list[forecasts.Forecast]:
    """The demand forecast of every pool and resource of today's plan (``current``), fitted to the recorded
    totals of ``history`` and today's."""
    points: dict[tuple[str, str], dict[dt.date, Decimal]] = {}
    for event in history:  # in ledger order: a later event of the same day wins
        for key, totals in (event.after or {}).items():
            points.setdefault((event.subject.get("pool", ""), key), {})[_day(event)] = Decimal(totals["demand"])
    for pool, totals in current.items():
        for key, values in totals.items():
            points.setdefault((pool, key), {})[today] = Decimal(values["demand"])
    return [forecasting.forecast([forecasts.Point(day=d, value=v) for d, v in sorted(series.items())], pool=pool,
                                 resource=key, series=forecasts.DEMAND,
                                 limit=Decimal(current[pool][key]["allocatable"]), today=today,
                                 horizon_days=horizon_days)
            for (pool, key), series in sorted(points.items()) if pool in current and key in current[pool]]


def _day(event: audit_events.LedgerEvent) -> dt.date:
    """The day a recorded plan describes: its ``asOf`` (the plan's --at), else the day it was recorded."""
    as_of = event.subject.get("asOf")
    return dt.date.fromisoformat(as_of) if as_of else event.at.date()


def _envelope_totals(allocation: allocations.Allocation) -> Mapping[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for tenant in allocation.tenants.values():
        for pool, share in tenant.shares.items():
            for key, value in share.envelope.items():
                totals[pool, key] = totals.get((pool, key), Decimal(0)) + value
    return totals
