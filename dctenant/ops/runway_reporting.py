"""``dctenant report forecast`` and ``report reclaim``: the planning figures as auditors' reports.

They share the other reports' shape (``domain.reports``) and writers (table, CSV, JSON, HTML), their
provenance (quotas, ledger position, Prometheus) and ``--out`` recording in the ledger. Their period
means: for a forecast, the horizon (from the report's day to the horizon's last day); for reclaim, the
window over which need is observed (``--period 1405-08 --calendar jalali`` is Aban's need). Both read
Prometheus, whose data ages out, so unlike the period reports they cannot be recomputed by
``--reproduce``; their inputs are recorded all the same.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import dctenant
from dctenant.clients import ledger_db, prometheus
from dctenant.domain import audit_events, periods, reclaim, reports
from dctenant.engine import runway_tallying, tallying
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import auditing, forecasting, reclaim_planning

TITLES = {"forecast": "Runway forecast", "reclaim": "Reclaim report"}


def forecast_report(result: forecasting.ForecastResult, *, path: str, now: dt.datetime,
                    calendar: str = periods.GREGORIAN, zone: str | None = None,
                    ledger: ledger_db.Ledger | None = None) -> reports.Report:
    """The report of a forecast already made (``dctenant forecast -o html`` has no ledger to cite)."""
    last = ledger.last_event(until=now + dt.timedelta(microseconds=1)) if ledger is not None else None
    end = result.today + dt.timedelta(days=result.horizon_days)
    horizon = periods.span(result.today, end, calendar=calendar, zone=zone)  # the crossing looks at today..end
    sources = [reports.Source(name="quotas", detail=f"{path} (as of {result.today})")]
    sources += [reports.Source(name=s.split(":", 1)[0], detail=s.split(":", 1)[1].strip()) for s in result.sources]
    if ledger is not None:
        sources.append(auditing.report_source(ledger, up_to=last.seq if last else 0))
    unknown = sum(1 for f in result.forecasts if f.trend is None)
    warnings = [f"{unknown} runway(s) are unknown: too little history to fit a trend (their dates are null, "
                "not \"never\"); record the plan daily with `dctenant forecast --record`"] if unknown else []
    inputs = {"quotas": path, "today": result.today.isoformat(), "horizonDays": result.horizon_days,
              "ledgerSeq": last.seq if last else 0, "calendar": calendar, "zone": horizon.zone,
              "sources": list(result.sources), "dctenantVersion": dctenant.__version__}
    return _report("forecast", period=horizon, now=now, path=path, last=last, sources=sources, warnings=warnings,
                   inputs=inputs, sections=runway_tallying.forecast(result.forecasts, today=result.today,
                                                                    horizon_days=result.horizon_days))


def build_forecast(*, path: str, now: dt.datetime, ledger: ledger_db.Ledger, horizon_days: int, url: str | None,
                   config: str | None, history_days: int, calendar: str, zone: str | None,
                   ask: prometheus.Asker | None = None) -> reports.Report:
    """Forecast from the ledger's plan history (and Prometheus' usage, given ``url``) as of ``now``'s day."""
    result = forecasting.forecast(path, today=now.date(), horizon_days=horizon_days, url=url, config=config,
                                  history_days=history_days, now=now, ask=ask, opened_ledger=ledger)
    return forecast_report(result, path=path, now=now, calendar=calendar, zone=zone, ledger=ledger)


def build_reclaim(*, path: str, now: dt.datetime, ledger: ledger_db.Ledger, period: periods.Period, url: str | None,
                  config: str | None, tenant: str | None = None, step_seconds: int = 300,
                  ask: prometheus.Asker | None = None) -> reports.Report:
    """Need observed over ``period`` (up to ``now`` if it has not ended) against the envelopes at its end."""
    if not url:
        raise UserError("report reclaim reads observed need from Prometheus: give --prometheus URL "
                        "(or set DCTENANT_PROMETHEUS_URL)", location="--prometheus")
    if period.start >= now:
        raise UserError(f"period {period.label} starts {audit_events.stamp(period.start)}, after the report's time: "
                        "no need has been observed yet", location="--period")
    at = min(period.end, now)
    window = int((at - period.start).total_seconds()) // step_seconds * step_seconds
    if window < step_seconds:
        raise UserError(f"period {period.label} has less than one {step_seconds}s step before now",
                        location="--period")
    if tenant is not None and tenant not in {t.id for t in loading.load(path).tenants}:
        raise UserError(f"no tenant {tenant!r} in {path}", location="--tenant")
    method = reclaim.Method(window_seconds=window, step_seconds=step_seconds)
    result = reclaim_planning.reclaim_plan(path, url=url, at=at, method=method, config=config, ask=ask)
    rows = tuple(r for r in result.rows if tenant is None or r.tenant == tenant)
    gains = tuple(g for g in result.gains if tenant is None or g.tenant == tenant)
    last = ledger.last_event(until=now + dt.timedelta(microseconds=1))
    m = method
    sources = [reports.Source(name="quotas", detail=f"{path} (envelopes as of {at.date()})"),
               reports.Source(name="prometheus", detail=(
                   f"{result.source}; window {audit_events.stamp(at - dt.timedelta(seconds=window))} to "
                   f"{audit_events.stamp(at)}, step {m.step_seconds}s")),
               reports.Source(name="method", detail=(
                   f"need = p{_percent(m.quantile)} of cpu, GPUs and bandwidth; peak + {_percent(m.margin)} % of "
                   f"memory and storage; propose when ≥ {_percent(m.min_idle)} % idle and ≥ "
                   f"{_percent(m.min_coverage)} % of the window seen")),
               auditing.report_source(ledger, up_to=last.seq if last else 0)]
    missing = sum(1 for r in rows if r.need is None)
    warnings = [f"reclaim: {missing} row(s) have no data at all: their need is null (\"no data\"), not zero"] \
        if missing else []
    inputs: dict[str, Any] = {"quotas": path, "tenant": tenant, "ledgerSeq": last.seq if last else 0,
                              "calendar": period.calendar, "zone": period.zone, "prometheus": result.source,
                              "windowSeconds": window, "stepSeconds": m.step_seconds, "quantile": str(m.quantile),
                              "margin": str(m.margin), "minIdle": str(m.min_idle),
                              "minCoverage": str(m.min_coverage), "dctenantVersion": dctenant.__version__}
    return _report("reclaim", period=period, now=now, path=path, last=last, sources=sources, warnings=warnings,
                   inputs=inputs, sections=runway_tallying.reclaim_rows(rows, gains), tenant=tenant)


def _percent(fraction: Decimal) -> str:
    """``Decimal("0.95")`` → ``"95"`` (``"95.00"`` is what formatting the product would say)."""
    return f"{(fraction * 100).normalize():f}"


def _report(kind: str, *, period: periods.Period, now: dt.datetime, path: str,
            last: audit_events.LedgerEvent | None, sources: list[reports.Source], warnings: list[str],
            inputs: dict[str, Any], sections: tuple[reports.Section, ...], tenant: str | None = None) -> reports.Report:
    model = loading.load(path)
    names = {k: v for k, v in tallying.names(model).items() if tenant is None or k == tenant}
    return reports.Report(kind=kind, title=TITLES[kind], period=period, generated_at=now, sources=tuple(sources),
                          ledger_hash=last.hash if last else None, ledger_seq=last.seq if last else None,
                          sections=sections, names=names, warnings=tuple(warnings), inputs=inputs)

