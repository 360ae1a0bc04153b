"""The runway model backtested on synthetic histories whose exhaustion day is known.

Each history is 90 daily points of ``100 + 2·t`` (per day) plus a weekend bump of +10 and seeded
Gaussian noise (σ = 3); the limit is 500, so the true line reaches it on day 200 (day 195 on a
weekend). The fit sees days 0–89 only. Stated error: the expected crossing within ±6 days of the
truth and the truth inside [earliest, latest], on every seed.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from dctenant.domain import forecasts
from dctenant.engine import forecasting

ORIGIN = dt.date(2026, 6, 1)  # a Monday


def truth(t: int) -> float:
    day = ORIGIN + dt.timedelta(days=t)
    return 100 + 2 * t + (10 if day.weekday() >= 5 else 0)


def history(seed: int, *, days: int = 90, sigma: float = 3.0) -> list[forecasts.Point]:
    rnd = random.Random(seed)
    return [forecasts.Point(day=ORIGIN + dt.timedelta(days=t),
                            value=Decimal(str(round(truth(t) + rnd.gauss(0, sigma), 3)))) for t in range(days)]


def true_crossing(limit: float) -> dt.date:
    t = 0
    while truth(t) < limit:
        t += 1
    return ORIGIN + dt.timedelta(days=t)


@pytest.mark.parametrize("seed", range(12))
def test_backtest_exhaustion_day_within_stated_error(seed: int) -> None:
    result = forecasting.forecast(history(seed), pool="p", resource="cpu", series=forecasts.DEMAND,
                                  limit=Decimal(500), today=ORIGIN + dt.timedelta(days=90), horizon_days=365)
    real = true_crossing(500)
    assert result.crossing is not None and result.earliest is not None and result.latest is not None
    assert abs((result.crossing - real).days) <= 6
    assert result.earliest <= real <= result.latest
    assert result.trend is not None and result.trend.slope == pytest.approx(2, abs=0.15)


def test_noise_free_line_crosses_exactly_on_the_boundary_day() -> None:
    # 10 + 1·t reaches 100 on day 90 exactly (>= counts), not a day earlier.
    points = [forecasts.Point(day=ORIGIN + dt.timedelta(days=t), value=Decimal(10 + t)) for t in range(30)]
    result = forecasting.forecast(points, pool="p", resource="cpu", series=forecasts.DEMAND, limit=Decimal(100),
                                  today=ORIGIN + dt.timedelta(days=30), horizon_days=365)
    assert result.crossing == ORIGIN + dt.timedelta(days=90)
    assert result.earliest == result.latest == result.crossing  # no noise: the band is the line


def test_flat_series_never_crosses_within_the_horizon() -> None:
    points = [forecasts.Point(day=ORIGIN + dt.timedelta(days=t), value=Decimal(50)) for t in range(30)]
    result = forecasting.forecast(points, pool="p", resource="cpu", series=forecasts.USAGE, limit=Decimal(100),
                                  today=ORIGIN + dt.timedelta(days=30), horizon_days=365)
    assert (result.crossing, result.earliest, result.latest) == (None, None, None)
    assert result.problem == ""


@pytest.mark.parametrize("days", [0, 1, 13])
def test_too_little_history_is_said_not_guessed(days: int) -> None:
    result = forecasting.forecast(history(1, days=days), pool="p", resource="cpu", series=forecasts.DEMAND,
                                  limit=Decimal(500), today=ORIGIN + dt.timedelta(days=90), horizon_days=365)
    assert result.trend is None and result.crossing is None
    assert "too little history" in result.problem and "14" in result.problem


def test_outliers_do_not_tilt_the_trend() -> None:
    points = [forecasts.Point(day=ORIGIN + dt.timedelta(days=t), value=Decimal(100 + 2 * t)) for t in range(40)]
    points[5] = forecasts.Point(day=points[5].day, value=Decimal(10_000))  # a migration day
    trend = forecasting.fit(points)
    assert isinstance(trend, forecasts.Trend)
    assert trend.slope == pytest.approx(2, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_group_medians_equal_numpys_median_per_group(seed: int) -> None:
    """The one-sort medians (weekly blocks, weekday season) against ``np.median`` group by group, with
    odd and even group sizes, ties, and an empty group (NaN, which the season turns into no offset)."""
    import numpy as np

    rnd = random.Random(seed)
    groups = np.array([rnd.choice([0, 1, 2, 4, 5, 6]) for _ in range(rnd.randint(30, 90))])
    values = np.array([float(rnd.choice([rnd.gauss(0, 5), 1.5])) for _ in groups])
    got = forecasting._group_medians(values, groups, 7)
    for g in range(7):
        expected = np.median(values[groups == g]) if (groups == g).any() else np.nan
        assert (np.isnan(got[g]) and np.isnan(expected)) or got[g] == expected
    assert np.isnan(got[3])
