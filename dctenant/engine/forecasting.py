"""Daily points → a robust trend with an interval, and the day it crosses a limit.

Pure: no clock, file or network; "today" and the horizon are arguments. The model (docs/planning.md):

1. **Trend**: the Theil–Sen estimator — the slope is the median of the slopes between every pair
   of points, the level the median of ``value − slope × t`` — so a few outliers (a migration day,
   a missed scrape) do not tilt it. Its 80 % slope interval is Sen's rank-based one: the pairwise
   slopes at ranks (N ∓ z·√(n(n−1)(2n+5)/18))/2, z = 1.2816 (Sen 1968; Hollander & Wolfe).
2. **Weekly season**, with at least four weeks of points: the median residual of each weekday.
3. **Band**: the 10th and 90th percentiles of the remaining residuals (an 80 % band for a new day).
4. **Crossing**: the first day the trend (with its weekday offset) reaches the limit; the interval
   of that day comes from the band's upper edge with the high slope (earliest) and its lower edge
   with the low slope (latest).

At least ``MIN_POINTS`` points over at least ``MIN_SPAN_DAYS`` days are needed; fewer is a clear
"too little history", never a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from dctenant.domain import forecasts

MIN_POINTS = 14
MIN_SPAN_DAYS = 14
SEASON_WEEKS = 4
LOW, HIGH = 10, 90  # percentiles: an 80 % interval
Z80 = 1.2816  # the standard normal's 90th percentile


def fit(points: Sequence[forecasts.Point]) -> forecasts.Trend | str:
    """The trend of ``points`` (one per day, any order), or the reason it cannot be fitted."""
    ordered = sorted(points, key=lambda p: p.day)
    if len(ordered) < MIN_POINTS or (ordered[-1].day - ordered[0].day).days < MIN_SPAN_DAYS:
        span = (ordered[-1].day - ordered[0].day).days if ordered else 0
        return (f"too little history: {len(ordered)} daily point(s) over {span} day(s); "
                f"a forecast needs at least {MIN_POINTS} points over {MIN_SPAN_DAYS} days")
    origin = ordered[0].day
    days = np.array([(p.day - origin).days for p in ordered], dtype=float)
    values = np.array([float(p.value) for p in ordered], dtype=float)
    # Every pair's slope (i < j); the days are distinct, so no division by zero.
    i, j = np.triu_indices(len(days), k=1)
    slopes = (values[j] - values[i]) / (days[j] - days[i])
    slope = float(np.median(slopes))
    slope_low, slope_high = _slope_interval(np.sort(slopes), n=len(days))
    level = float(np.median(values - slope * days))
    residuals = values - (level + slope * days)
    weekdays = np.array([p.day.weekday() for p in ordered])
    seasonal = [0.0] * 7
    if days[-1] >= 7 * SEASON_WEEKS:
        for d in range(7):
            on_day = residuals[weekdays == d]
            if on_day.size:
                seasonal[d] = float(np.median(on_day))
        residuals = residuals - np.array([seasonal[d] for d in weekdays])
    low, high = (float(x) for x in np.percentile(residuals, [LOW, HIGH]))
    return forecasts.Trend(origin=origin, level=level, slope=slope, slope_low=slope_low, slope_high=slope_high,
                           seasonal=tuple(seasonal), residual_low=low, residual_high=high,
                           coverage=(HIGH - LOW) / 100)


def _slope_interval(sorted_slopes: np.ndarray, *, n: int) -> tuple[float, float]:
    """Sen's distribution-free interval for the Theil–Sen slope (80 %: z = 1.2816)."""
    count = sorted_slopes.size
    spread = Z80 * (n * (n - 1) * (2 * n + 5) / 18) ** 0.5
    lower = max(int(np.floor((count - spread) / 2)), 0)
    upper = min(int(np.ceil((count + spread) / 2)), count - 1)
    return float(sorted_slopes[lower]), float(sorted_slopes[upper])


def predict(trend: forecasts.Trend, day: dt.date) -> tuple[float, float, float]:
    """(low, expected, high) on ``day``: the band's edges use the slope interval beyond the last point."""
    t = (day - trend.origin).days
    season = trend.seasonal[day.weekday()]
    expected = trend.level + trend.slope * t + season
    anchor = trend.level + trend.slope * t  # the slope's uncertainty grows from the fitted line
    low = min(expected, anchor + (trend.slope_low - trend.slope) * max(t, 0) + season) + trend.residual_low
    high = max(expected, anchor + (trend.slope_high - trend.slope) * max(t, 0) + season) + trend.residual_high
    return low, expected, high


def crossing(trend: forecasts.Trend, *, limit: Decimal, today: dt.date, horizon_days: int
             ) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    """(expected, earliest, latest): the first day from ``today`` on which the expected value, the band's
    upper edge and its lower edge reach ``limit``; ``None`` when not within ``horizon_days``."""
    bound = float(limit)
    found: list[dt.date | None] = [None, None, None]
    for offset in range(horizon_days + 1):
        day = today + dt.timedelta(days=offset)
        low, expected, high = predict(trend, day)
        for k, value in ((0, expected), (1, high), (2, low)):
            if found[k] is None and value >= bound:
                found[k] = day
        if found[2] is not None:
            break
    return found[0], found[1], found[2]


def forecast(points: Sequence[forecasts.Point], *, pool: str, resource: str, series: str, limit: Decimal,
             today: dt.date, horizon_days: int) -> forecasts.Forecast:
    """Fit ``points`` and find when they reach ``limit`` within the horizon."""
    current = max(points, key=lambda p: p.day).value if points else None
    trend = fit(points)
    if isinstance(trend, str):
        return forecasts.Forecast(pool=pool, resource=resource, series=series, points=len(points), current=current,
                                  limit=limit, trend=None, crossing=None, earliest=None, latest=None, problem=trend)
    expected, earliest, latest = crossing(trend, limit=limit, today=today, horizon_days=horizon_days)
    return forecasts.Forecast(pool=pool, resource=resource, series=series, points=len(points), current=current,
                              limit=limit, trend=trend, crossing=expected, earliest=earliest, latest=latest)
