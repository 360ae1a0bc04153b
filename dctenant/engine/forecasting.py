"""Daily points → a robust trend with an interval, and the day it crosses a limit.

Pure: no clock, file or network; "today" and the horizon are arguments. The model (docs/planning.md):

1. **Trend**: the Theil–Sen estimator — the slope is the median of the slopes between every pair
   of points, the level the median of ``value − slope × t`` — so a few outliers (a migration day,
   a missed scrape) do not tilt it. Series of more than 180 days are summarised by weekly medians
   for the slope (two years of days would be 266,000 pairs per series). Its 80 % slope interval
   is Sen's rank-based one: the pairwise slopes at ranks (N ∓ z·√(n(n−1)(2n+5)/18))/2,
   z = 1.2816 (Sen 1968; Hollander & Wolfe).
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
import functools
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from dctenant.domain import forecasts

MIN_POINTS = 14
MIN_SPAN_DAYS = 14
SEASON_WEEKS = 4
LOW, HIGH = 10, 90  # percentiles: an 80 % interval
Z80 = 1.2816  # the standard normal's 90th percentile
WEEKLY_ABOVE = 180  # points; longer series are fitted on weekly medians


def fit(points: Sequence[forecasts.Point], *, ordered_by_day: bool = False) -> forecasts.Trend | str:
    """The trend of ``points`` (one per day, any order), or the reason it cannot be fitted."""
    ordered = points if ordered_by_day else sorted(points, key=lambda p: p.day)
    if len(ordered) < MIN_POINTS or (ordered[-1].day - ordered[0].day).days < MIN_SPAN_DAYS:
        span = (ordered[-1].day - ordered[0].day).days if ordered else 0
        return (f"too little history: {len(ordered)} daily point(s) over {span} day(s); "
                f"a forecast needs at least {MIN_POINTS} points over {MIN_SPAN_DAYS} days")
    origin = ordered[0].day
    days = np.array([(p.day - origin).days for p in ordered], dtype=float)
    values = np.array([float(p.value) for p in ordered], dtype=float)
    # Every pair's slope (i < j); the days are distinct, so no division by zero. A long series is
    # summarised by weekly medians first: n² pairs of two years of days would cost 266,000 slopes
    # per series, and the weeks carry the same trend (the level, season and band still use every day).
    slope_days, slope_values = _weekly(days, values) if len(days) > WEEKLY_ABOVE else (days, values)
    i, j = _pairs(len(slope_days))
    slopes = (slope_values[j] - slope_values[i]) / (slope_days[j] - slope_days[i])
    slope, slope_low, slope_high = _slope_and_interval(slopes, n=len(slope_days))
    level = float(np.median(values - slope * days))
    residuals = values - (level + slope * days)
    weekdays = ((origin.weekday() + days) % 7).astype(int)
    seasonal = [0.0] * 7
    if days[-1] >= 7 * SEASON_WEEKS:
        by_weekday = _group_medians(residuals, weekdays, 7)
        seasonal = [0.0 if np.isnan(m) else float(m) for m in by_weekday]
        residuals = residuals - np.array(seasonal)[weekdays]
    low, high = (float(x) for x in np.percentile(residuals, [LOW, HIGH]))
    return forecasts.Trend(origin=origin, level=level, slope=slope, slope_low=slope_low, slope_high=slope_high,
                           seasonal=tuple(seasonal), residual_low=low, residual_high=high,
                           coverage=(HIGH - LOW) / 100)


def _weekly(days: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each 7-day block's median day and median value (a last block of fewer days counts too)."""
    _, block = np.unique((days // 7).astype(int), return_inverse=True)
    count = int(block.max()) + 1
    return _group_medians(days, block, count), _group_medians(values, block, count)


def _group_medians(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """The median of ``values`` in each group ``0..count-1`` (NaN for an empty one), every group at once.

    One sort by (group, value), then each group's middle element or the mean of its middle two,
    exactly as ``np.median`` takes them; a loop of ``np.median`` calls (or ``np.nanmedian`` over a
    padded grid) cost most of a forecast's time.
    """
    ordered = values[np.lexsort((values, groups))]
    sizes = np.bincount(groups, minlength=count)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    out = np.full(count, np.nan)
    seen = sizes > 0
    low = starts[seen] + (sizes[seen] - 1) // 2
    high = starts[seen] + sizes[seen] // 2
    out[seen] = (ordered[low] + ordered[high]) / 2
    return out


@functools.lru_cache(maxsize=8)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs (i < j) of ``n`` points; every series of a run has the same length, so kept."""
    i, j = np.triu_indices(n, k=1)
    return i, j


def _slope_and_interval(slopes: np.ndarray, *, n: int) -> tuple[float, float, float]:
    """The median slope and Sen's distribution-free 80 % interval (z = 1.2816), by selection, not sorting."""
    count = slopes.size
    spread = Z80 * (n * (n - 1) * (2 * n + 5) / 18) ** 0.5
    lower = max(int(np.floor((count - spread) / 2)), 0)
    upper = min(int(np.ceil((count + spread) / 2)), count - 1)
    middle = [(count - 1) // 2, count // 2]
    ranks = sorted({lower, upper, *middle})
    chosen = np.partition(slopes, ranks)
    return float((chosen[middle[0]] + chosen[middle[1]]) / 2), float(chosen[lower]), float(chosen[upper])


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
    offsets = np.arange(horizon_days + 1)
    t = (today - trend.origin).days + offsets
    weekday = (today.weekday() + offsets) % 7
    season = np.array(trend.seasonal)[weekday]
    anchor = trend.level + trend.slope * t
    expected = anchor + season
    ahead = np.maximum(t, 0)
    low = np.minimum(expected, anchor + (trend.slope_low - trend.slope) * ahead + season) + trend.residual_low
    high = np.maximum(expected, anchor + (trend.slope_high - trend.slope) * ahead + season) + trend.residual_high
    bound = float(limit)

    def first(values: np.ndarray) -> dt.date | None:
        reached = np.flatnonzero(values >= bound)
        return today + dt.timedelta(days=int(reached[0])) if reached.size else None

    return first(expected), first(high), first(low)


def forecast(points: Sequence[forecasts.Point], *, pool: str, resource: str, series: str, limit: Decimal,
             today: dt.date, horizon_days: int) -> forecasts.Forecast:
    """Fit ``points`` and find when they reach ``limit`` within the horizon."""
    history = tuple(sorted(points, key=lambda p: p.day))
    current = history[-1].value if history else None
    trend = fit(history, ordered_by_day=True)
    if isinstance(trend, str):
        return forecasts.Forecast(pool=pool, resource=resource, series=series, points=len(points), current=current,
                                  limit=limit, trend=None, crossing=None, earliest=None, latest=None, problem=trend,
                                  history=history)
    expected, earliest, latest = crossing(trend, limit=limit, today=today, horizon_days=horizon_days)
    return forecasts.Forecast(pool=pool, resource=resource, series=series, points=len(points), current=current,
                              limit=limit, trend=trend, crossing=expected, earliest=earliest, latest=latest,
                              history=history)
