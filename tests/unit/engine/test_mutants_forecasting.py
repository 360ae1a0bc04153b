"""engine.forecasting.fit against a plain-Python reimplementation of docs/planning.md's model.

The reference below is written from the documented rules only (Theil–Sen slope over every pair,
or over weekly medians beyond 180 points; Sen's 80 % rank interval; level the median of
``value − slope × t``; a weekday season from four weeks on; the band the 10th and 90th
percentiles of the residuals, linearly interpolated), with ``statistics.median`` and sorting
instead of numpy, so every field of the fitted trend is checked on series of every regime and at
each threshold (14 points, 14 days, 28 days, 180 points).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from decimal import Decimal

import pytest

from dctenant.domain import forecasts
from dctenant.engine import forecasting

ORIGIN = dt.date(2026, 6, 3)  # a Wednesday


def _series(days: list[int], seed: int) -> list[forecasts.Point]:
    rnd = random.Random(seed)
    return [forecasts.Point(day=ORIGIN + dt.timedelta(days=t),
                            value=Decimal(str(round(50 + 0.7 * t + 6 * math.sin(t) + rnd.gauss(0, 4), 3))))
            for t in days]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _reference(points: list[forecasts.Point]) -> forecasts.Trend:
    ordered = sorted(points, key=lambda p: p.day)
    origin = ordered[0].day
    t = [float((p.day - origin).days) for p in ordered]
    v = [float(p.value) for p in ordered]
    if len(t) > 180:  # weekly medians of day and value, by 7-day block from the origin
        blocks: dict[int, list[int]] = {}
        for i, day in enumerate(t):
            blocks.setdefault(int(day // 7), []).append(i)
        st = [statistics.median(t[i] for i in members) for _, members in sorted(blocks.items())]
        sv = [statistics.median(v[i] for i in members) for _, members in sorted(blocks.items())]
    else:
        st, sv = t, v
    n = len(st)
    slopes = sorted((sv[j] - sv[i]) / (st[j] - st[i]) for i in range(n) for j in range(i + 1, n))
    count = len(slopes)
    spread = 1.2816 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lower = max(math.floor((count - spread) / 2), 0)
    upper = min(math.ceil((count + spread) / 2), count - 1)
    slope = statistics.median(slopes)
    level = statistics.median(v[i] - slope * t[i] for i in range(len(t)))
    residuals = [v[i] - (level + slope * t[i]) for i in range(len(t))]
    seasonal = [0.0] * 7
    if t[-1] >= 28:
        weekday = [int((origin.weekday() + day) % 7) for day in t]
        for w in range(7):
            mine = [r for r, d in zip(residuals, weekday, strict=True) if d == w]
            seasonal[w] = statistics.median(mine) if mine else 0.0
        residuals = [r - seasonal[d] for r, d in zip(residuals, weekday, strict=True)]
    return forecasts.Trend(origin=origin, level=level, slope=slope, slope_low=slopes[lower], slope_high=slopes[upper],
                           seasonal=tuple(seasonal), residual_low=_percentile(residuals, 10),
                           residual_high=_percentile(residuals, 90), coverage=0.8)


def _close(got: forecasts.Trend | str, want: forecasts.Trend) -> None:
    assert isinstance(got, forecasts.Trend), got
    assert got.origin == want.origin and got.coverage == pytest.approx(want.coverage)
    for name in ("level", "slope", "slope_low", "slope_high", "residual_low", "residual_high"):
        assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9, abs=1e-9), name
    assert got.seasonal == pytest.approx(want.seasonal, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("days", "seed"), [
    (list(range(15)), 1),  # 15 points over 14 days: the least span
    ([*range(13), 14], 2),  # exactly 14 points over 14 days (a gap)
    (list(range(28)), 3),  # last day 27: no season yet
    (list(range(29)), 4),  # last day 28: four weeks, a season
    ([d for d in range(60) if d % 7 != 2], 5),  # one weekday never measured: no offset for it
    (list(range(180)), 6),  # 180 points: every pair
    (list(range(181)), 7),  # 181 points: weekly medians (a last block of 6 days)
    ([d for d in range(230) if d % 9], 8),  # gaps and weekly medians
])
def test_fit_follows_the_documented_model(days: list[int], seed: int) -> None:
    points = _series(days, seed)
    _close(forecasting.fit(list(reversed(points))), _reference(points))
    _close(forecasting.fit(points, ordered_by_day=True), _reference(points))


def test_a_noise_free_line_without_a_season_is_fitted_exactly() -> None:
    points = [forecasts.Point(day=ORIGIN + dt.timedelta(days=t), value=Decimal(10 + 2 * t)) for t in range(20)]
    assert forecasting.fit(points[::-1]) == forecasts.Trend(
        origin=ORIGIN, level=10.0, slope=2.0, slope_low=2.0, slope_high=2.0, seasonal=(0.0,) * 7, residual_low=0.0,
        residual_high=0.0, coverage=0.8)


def test_no_history_and_enough_history_with_a_gap() -> None:
    assert forecasting.fit([]) == (
        "too little history: 0 daily point(s) over 0 day(s); a forecast needs at least 14 points over 14 days")
    assert isinstance(forecasting.fit(_series([*range(13), 40], 9)), forecasts.Trend)  # 14 points over 40 days


def test_too_few_points_or_too_short_a_span_is_refused_at_the_boundary() -> None:
    thirteen = _series([*range(12), 20], 10)  # 13 points over 20 days
    assert forecasting.fit(thirteen) == ("too little history: 13 daily point(s) over 20 day(s); "
                                         "a forecast needs at least 14 points over 14 days")
    short = _series(list(range(14)), 11)  # 14 points over 13 days
    assert forecasting.fit(list(reversed(short))) == (
        "too little history: 14 daily point(s) over 13 day(s); a forecast needs at least 14 points over 14 days")


MONDAY = dt.date(2026, 6, 1)
# level 10, slope 2 a day (1 to 4 in the interval), +3 on Wednesdays, residuals −1 to +2.
TREND = forecasts.Trend(origin=MONDAY, level=10.0, slope=2.0, slope_low=1.0, slope_high=4.0,
                        seasonal=(0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0), residual_low=-1.0, residual_high=2.0,
                        coverage=0.8)


def test_predict_widens_the_band_with_the_slope_interval_only_ahead_of_the_origin() -> None:
    # Wednesday, t = 9: expected 10 + 18 + 3 = 31; low min(31, 28 − 9 + 3) − 1 = 21; high max(31, 28 + 18 + 3) + 2 = 51.
    assert forecasting.predict(TREND, MONDAY + dt.timedelta(days=9)) == (21.0, 31.0, 51.0)
    # Saturday before the origin, t = −2: expected 6; the slope interval does not reach back: 5 and 8.
    assert forecasting.predict(TREND, MONDAY - dt.timedelta(days=2)) == (5.0, 6.0, 8.0)


def test_crossing_days_of_the_line_and_the_bands_edges() -> None:
    today = MONDAY + dt.timedelta(days=9)  # a Wednesday
    # Expected 10 + 2t (+3 on Wednesdays) reaches 40 at t = 15 exactly (a Tuesday), 6 days on; the upper edge
    # 12 + 4t (+3) is already above; the lower edge 9 + t (+3 on Wednesdays) first reaches 40 at t = 30, a
    # Wednesday (42; t = 23 gave 35), 21 days on.
    assert forecasting.crossing(TREND, limit=Decimal(40), today=today, horizon_days=21) == (
        today + dt.timedelta(days=6), today, today + dt.timedelta(days=21))
    assert forecasting.crossing(TREND, limit=Decimal(40), today=today, horizon_days=20) == (
        today + dt.timedelta(days=6), today, None)
    assert forecasting.crossing(TREND, limit=Decimal(40), today=today, horizon_days=5) == (None, today, None)


def test_forecast_carries_its_inputs_through() -> None:
    points = [forecasts.Point(day=MONDAY + dt.timedelta(days=t), value=Decimal(10 + 2 * t)) for t in range(20)]
    result = forecasting.forecast(points[::-1], pool="p", resource="cpu", series=forecasts.USAGE, limit=Decimal(60),
                                  today=MONDAY + dt.timedelta(days=20), horizon_days=30)
    # 10 + 2t reaches 60 at t = 25, five days after today; no noise, so the band is the line.
    day = MONDAY + dt.timedelta(days=25)
    assert result == forecasts.Forecast(
        pool="p", resource="cpu", series=forecasts.USAGE, points=20, current=Decimal(48), limit=Decimal(60),
        trend=forecasts.Trend(origin=MONDAY, level=10.0, slope=2.0, slope_low=2.0, slope_high=2.0,
                              seasonal=(0.0,) * 7, residual_low=0.0, residual_high=0.0, coverage=0.8),
        crossing=day, earliest=day, latest=day, problem="", history=tuple(points))
    short = forecasting.forecast(points[:3], pool="p", resource="cpu", series=forecasts.DEMAND, limit=Decimal(60),
                                 today=MONDAY, horizon_days=30)
    assert short == forecasts.Forecast(
        pool="p", resource="cpu", series=forecasts.DEMAND, points=3, current=Decimal(14), limit=Decimal(60),
        trend=None, crossing=None, earliest=None, latest=None, history=tuple(points[:3]),
        problem="too little history: 3 daily point(s) over 2 day(s); a forecast needs at least 14 points over 14 days")
