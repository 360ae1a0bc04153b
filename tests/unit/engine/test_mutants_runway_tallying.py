"""engine.runway_tallying: forecasts and reclaim rows as report sections, checked cell by cell.

The cells, statuses, chart titles and band days below are worked out by hand from the inputs;
the column keys, titles and kinds are the reports' published wording (every writer shows them),
pinned here so that changing one is a decision and not an accident.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dctenant.domain import forecasts, reclaim, reports, whatif
from dctenant.engine import runway_tallying

D = Decimal
TODAY = dt.date(2026, 11, 30)
C = reports.Column


def _trend(*, level: float = 10.0, slope: float = 2.0) -> forecasts.Trend:
    # No seasonality, no residual and a slope without interval: every band point is level + slope × t.
    return forecasts.Trend(origin=dt.date(2026, 11, 1), level=level, slope=slope, slope_low=slope, slope_high=slope,
                           seasonal=(0.0,) * 7, residual_low=0.0, residual_high=0.0, coverage=0.8)


def _forecast(**kwargs: object) -> forecasts.Forecast:
    fields: dict[str, object] = {
        "pool": "p", "resource": "cpu", "series": forecasts.DEMAND, "points": 30, "current": D(30),
        "limit": D(120), "trend": _trend(), "crossing": None, "earliest": None, "latest": None}
    fields |= kwargs
    return forecasts.Forecast(**fields)  # type: ignore[arg-type]


def test_runway_status_in_words() -> None:
    day = dt.date(2027, 1, 1)
    assert runway_tallying.runway_status(_forecast(trend=None, crossing=day, earliest=day)) == "unknown"
    assert runway_tallying.runway_status(_forecast(crossing=day, earliest=day)) == "runs out"
    assert runway_tallying.runway_status(_forecast(earliest=day)) == "may run out"
    assert runway_tallying.runway_status(_forecast()) == "beyond horizon"


def test_forecast_rows_and_columns() -> None:
    items = [
        _forecast(crossing=dt.date(2027, 1, 2), earliest=dt.date(2026, 12, 24), latest=dt.date(2027, 2, 3),
                  trend=_trend(slope=0.123456789)),
        _forecast(pool="q", resource="memory", series=forecasts.USAGE, points=3, current=None, limit=D(64),
                  trend=None, problem="only 3 daily points"),
        _forecast(current=D(5), limit=D(0)),
    ]
    (section,) = runway_tallying.forecast(items, today=TODAY, horizon_days=10)
    assert section.name == "runway"
    assert section.title == "Runway per pool and resource (80 % interval)"
    assert section.rows == (
        {"pool": "p", "resource": "cpu", "series": "demand", "points": 30, "current": "30", "limit": "120",
         "used": "0.2500", "exhausted": "2027-01-02", "earliest": "2026-12-24", "latest": "2027-02-03",
         "slopePerDay": "0.123457", "status": "runs out", "note": None},
        {"pool": "q", "resource": "memory", "series": "usage", "points": 3, "current": None, "limit": "64",
         "used": None, "exhausted": None, "earliest": None, "latest": None, "slopePerDay": None,
         "status": "unknown", "note": "only 3 daily points"},
        {"pool": "p", "resource": "cpu", "series": "demand", "points": 30, "current": "5", "limit": "0",
         "used": None, "exhausted": None, "earliest": None, "latest": None, "slopePerDay": "2",
         "status": "beyond horizon", "note": None},
    )
    beyond = "beyond horizon"
    assert section.columns == (
        C(key="pool", title="Pool"), C(key="resource", title="Resource"), C(key="series", title="Series"),
        C(key="points", title="Daily points", kind=reports.INTEGER),
        C(key="current", title="Now", kind=reports.AMOUNT), C(key="limit", title="Limit", kind=reports.AMOUNT),
        C(key="used", title="Used", kind=reports.FRACTION),
        C(key="exhausted", title="Runs out", kind=reports.DATE, empty=beyond),
        C(key="earliest", title="Earliest (80 %)", kind=reports.DATE, empty=beyond),
        C(key="latest", title="Latest (80 %)", kind=reports.DATE, empty=beyond),
        C(key="slopePerDay", title="Trend per day", kind=reports.AMOUNT),
        C(key="status", title="Status"), C(key="note", title="Why unknown"))
    first, second, _ = section.plots
    assert isinstance(first, reports.Runway) and isinstance(second, reports.Runway)
    assert first.title == "p · cpu · demand against allocatable"
    assert second.title == "q · memory · usage against envelopes"
    assert (second.unit, second.limit, second.band, second.note) == ("memory", 64.0, (), "only 3 daily points")
    assert (first.today, first.end, first.crossing, first.earliest, first.latest, first.note) == (
        TODAY, dt.date(2026, 12, 10), dt.date(2027, 1, 2), dt.date(2026, 12, 24), dt.date(2027, 2, 3), "")


def _band_days(history_days: int, horizon_days: int) -> list[dt.date]:
    start = TODAY - dt.timedelta(days=history_days)
    history = tuple(forecasts.Point(day=start + dt.timedelta(days=i), value=D(i)) for i in range(history_days))
    (section,) = runway_tallying.forecast([_forecast(history=history)], today=TODAY, horizon_days=horizon_days)
    (plot,) = section.plots
    assert isinstance(plot, reports.Runway)
    assert plot.history == tuple((start + dt.timedelta(days=i), float(i)) for i in range(history_days))
    return [day for day, *_ in plot.band]


def test_the_band_is_daily_up_to_120_days() -> None:
    # History from 2026-11-20 (10 days), horizon 110 days: a span of exactly 120 days, 121 daily points.
    days = _band_days(10, 110)
    assert days == [dt.date(2026, 11, 20) + dt.timedelta(days=i) for i in range(121)]


def test_the_band_is_weekly_beyond_120_days_and_ends_on_the_horizon() -> None:
    # A span of 121 days: every 7th day from the first (0, 7, …, 119), then the horizon's end (day 121).
    days = _band_days(10, 111)
    first = dt.date(2026, 11, 20)
    assert days == [first + dt.timedelta(days=i) for i in range(0, 120, 7)] + [first + dt.timedelta(days=121)]


def test_the_band_step_stays_whole_weeks() -> None:
    # 840 days: 840 / 120 = 7 days a step exactly; 841 days: more than 7, so the next whole week, 14.
    assert _band_days(0, 840)[:3] == [TODAY, TODAY + dt.timedelta(days=7), TODAY + dt.timedelta(days=14)]
    days = _band_days(0, 841)
    assert days[:3] == [TODAY, TODAY + dt.timedelta(days=14), TODAY + dt.timedelta(days=28)]
    assert days[-2:] == [TODAY + dt.timedelta(days=840), TODAY + dt.timedelta(days=841)]


def test_band_values_follow_the_trend() -> None:
    (section,) = runway_tallying.forecast([_forecast()], today=TODAY, horizon_days=2)
    (plot,) = section.plots
    assert isinstance(plot, reports.Runway)
    # No history: the band starts today, 29 days after the origin: 10 + 2 × 29 = 68, then 70, 72.
    assert plot.band == ((TODAY, 68.0, 68.0, 68.0), (TODAY + dt.timedelta(days=1), 70.0, 70.0, 70.0),
                         (TODAY + dt.timedelta(days=2), 72.0, 72.0, 72.0))
    assert plot.history == () and plot.limit == 120.0 and plot.unit == "cpu"


def _row(tenant: str, pool: str, resource: str, **kwargs: object) -> reclaim.Row:
    fields: dict[str, object] = {"tenant": tenant, "pool": pool, "resource": resource, "envelope": D(8),
                                 "demand": D(10), "statistic": "p95", "observed": D(3), "need": D(4),
                                 "coverage": D(1), "proposed": D(5)}
    fields |= kwargs
    return reclaim.Row(**fields)  # type: ignore[arg-type]


def test_reclaim_rows_statuses_and_cells() -> None:
    rows = [
        _row("a", "p", "cpu"),
        _row("b", "p", "cpu", coverage=D("0.9999"), proposed=None, held="partial data"),
        _row("c", "p", "cpu", observed=None, need=None, coverage=D(0), proposed=None),
        _row("d", "p", "cpu", envelope=D(0), need=D("0.5")),
    ]
    reclaim_section, gains = runway_tallying.reclaim_rows(rows, ())
    assert reclaim_section.name == "reclaim" and reclaim_section.title == "Envelope against observed need"
    assert reclaim_section.rows == (
        {"tenant": "a", "pool": "p", "resource": "cpu", "envelope": "8", "demand": "10", "statistic": "p95",
         "observed": "3", "need": "4", "idle": "4", "idleRatio": "0.5000", "coverage": "1.0000", "proposed": "5",
         "heldBy": None, "status": "complete"},
        {"tenant": "b", "pool": "p", "resource": "cpu", "envelope": "8", "demand": "10", "statistic": "p95",
         "observed": "3", "need": "4", "idle": "4", "idleRatio": "0.5000", "coverage": "0.9999", "proposed": None,
         "heldBy": "partial data", "status": "partial"},
        {"tenant": "c", "pool": "p", "resource": "cpu", "envelope": "8", "demand": "10", "statistic": "p95",
         "observed": None, "need": None, "idle": None, "idleRatio": None, "coverage": "0.0000", "proposed": None,
         "heldBy": None, "status": "no data"},
        {"tenant": "d", "pool": "p", "resource": "cpu", "envelope": "0", "demand": "10", "statistic": "p95",
         "observed": "3", "need": "0.5", "idle": "0", "idleRatio": None, "coverage": "1.0000", "proposed": "5",
         "heldBy": None, "status": "complete"},
    )
    assert reclaim_section.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="pool", title="Pool"),
        C(key="resource", title="Resource"), C(key="envelope", title="Envelope", kind=reports.AMOUNT),
        C(key="demand", title="Demand", kind=reports.AMOUNT), C(key="statistic", title="Statistic"),
        C(key="observed", title="Observed", kind=reports.AMOUNT),
        C(key="need", title="Need", kind=reports.AMOUNT), C(key="idle", title="Idle", kind=reports.AMOUNT),
        C(key="idleRatio", title="Idle share", kind=reports.FRACTION),
        C(key="coverage", title="Window seen", kind=reports.COVERAGE),
        C(key="proposed", title="Proposed demand", kind=reports.AMOUNT, empty="none"),
        C(key="heldBy", title="Held by"), C(key="status", title="Status"))
    assert gains.name == "gains" and gains.rows == ()
    assert gains.title == "What the others would gain (plan --what-if on the proposals)"
    assert gains.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="pool", title="Pool"),
        C(key="resource", title="Resource"), C(key="before", title="Envelope now", kind=reports.AMOUNT),
        C(key="after", title="If proposals are made", kind=reports.AMOUNT),
        C(key="delta", title="Gain", kind=reports.AMOUNT))


def test_reclaim_charts_by_pool_then_resource_in_reading_order() -> None:
    rows = [
        _row("a", "q", "cpu"),
        _row("a", "p", "bandwidth/egress", envelope=D(100), need=None),
        _row("b", "p", "cpu", envelope=D("2.5"), need=D("1.5")),
        _row("a", "p", "cpu"),
    ]
    reclaim_section, _ = runway_tallying.reclaim_rows(rows, ())
    # Pool p first; in it cpu before bandwidth/egress (reading order, not the alphabet); then pool q.
    assert reclaim_section.plots == (
        reports.NeedChart(title="p · cpu: envelope and observed need", unit="cpu", needs=(
            reports.Need(label="b", envelope=2.5, need=1.5), reports.Need(label="a", envelope=8.0, need=4.0))),
        reports.NeedChart(title="p · bandwidth/egress: envelope and observed need", unit="bandwidth/egress",
                          needs=(reports.Need(label="a", envelope=100.0, need=None),)),
        reports.NeedChart(title="q · cpu: envelope and observed need", unit="cpu",
                          needs=(reports.Need(label="a", envelope=8.0, need=4.0),)),
    )


def test_gains_rows_with_missing_envelopes_counted_as_none() -> None:
    changes = [whatif.EnvelopeChange(tenant="e", pool="p", resource="cpu", before=D(2), after=D("3.5")),
               whatif.EnvelopeChange(tenant="f", pool="p", resource="cpu", before=None, after=D(1)),
               whatif.EnvelopeChange(tenant="g", pool="p", resource="cpu", before=D(2), after=None)]
    _, gains = runway_tallying.reclaim_rows([], changes)
    assert gains.rows == (
        {"tenant": "e", "pool": "p", "resource": "cpu", "before": "2", "after": "3.5", "delta": "1.5"},
        {"tenant": "f", "pool": "p", "resource": "cpu", "before": None, "after": "1", "delta": "1"},
        {"tenant": "g", "pool": "p", "resource": "cpu", "before": "2", "after": None, "delta": "-2"},
    )
