"""Runway forecasts as values: when a pool's demand outgrows what it can give, or usage its envelopes.

A forecast is a trend fitted to daily points with an interval, and the day it crosses a limit.
``None`` dates mean "not within the horizon"; a series too short to fit says so in ``problem``
instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

DEMAND = "demand"  # total demand of served tenants, against allocatable
USAGE = "usage"  # daily peak of measured usage, against the sum of envelopes


@dataclass(frozen=True, kw_only=True)
class Point:
    day: dt.date
    value: Decimal


@dataclass(frozen=True, kw_only=True)
class Trend:
    """value(day) ≈ level + slope × (day − origin) + seasonal[weekday]; the band holds ``coverage`` of
    past points around it, and the slope's own interval widens the band into the future."""

    origin: dt.date
    level: float
    slope: float  # per day
    slope_low: float
    slope_high: float
    seasonal: tuple[float, ...]  # 7 weekday offsets (all 0 without enough weeks)
    residual_low: float
    residual_high: float
    coverage: float


@dataclass(frozen=True, kw_only=True)
class Forecast:
    pool: str
    resource: str
    series: str  # DEMAND or USAGE
    points: int
    current: Decimal | None
    limit: Decimal
    trend: Trend | None
    crossing: dt.date | None  # the day the fitted trend first reaches the limit (None: not within the horizon)
    earliest: dt.date | None  # the day the interval's upper edge reaches it
    latest: dt.date | None  # the day the interval's lower edge reaches it (None: not within the horizon)
    problem: str = ""  # why there is no forecast (too little history, no data)
    history: tuple[Point, ...] = ()  # the points fitted, by day (for the report's runway chart)
