"""``dctenant forecast`` end to end on the example: demand history from the ledger, usage from Prometheus.

The ledger gets 30 days of ``plan-recorded`` events in which thr-ab's CPU demand grows by exactly
100 cores a day from 10,000; the allocatable is whatever ``plan`` says, so the expected day is
computed here: the first day on which 10,000 + 100·t ≥ allocatable. Usage comes from a fake
Prometheus answering the daily-peak query with a matrix of known points.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from dctenant.cli import main as cli
from dctenant.clients import ledger_db
from dctenant.domain import forecasts
from dctenant.ops import forecasting, planning
from tests.conftest import EXAMPLE

TODAY = dt.date(2026, 11, 27)
START = TODAY - dt.timedelta(days=30)


@pytest.fixture
def ledger(tmp_path: Any) -> str:
    url = str(tmp_path / "ledger.db")
    model = planning.plan(str(EXAMPLE), at=TODAY).allocation
    totals = forecasting.demand_totals(model)
    with ledger_db.open_ledger(url) as opened:
        for t in range(30):
            day = START + dt.timedelta(days=t)
            for pool, values in totals.items():
                after = {k: dict(v) for k, v in values.items()}
                if pool == "thr-ab":
                    after["cpu"]["demand"] = str(10_000 + 100 * t)
                opened.append(kind=forecasting.PLAN_RECORDED, actor="test", subject={"pool": pool}, after=after,
                              at=dt.datetime.combine(day, dt.time(6), dt.UTC))
    return url


def test_demand_runway_from_the_ledger(ledger: str) -> None:
    result = forecasting.forecast(str(EXAMPLE), today=START + dt.timedelta(days=30), horizon_days=365,
                                  ledger=ledger)
    (cpu,) = [f for f in result.forecasts if (f.pool, f.resource, f.series) == ("thr-ab", "cpu", forecasts.DEMAND)]
    # Today's point is the example's own demand (the plan as it is), which sits off the recorded line; the
    # robust fit keeps the line: 10,000 + 100·t.
    assert cpu.trend is not None and cpu.trend.slope == pytest.approx(100, rel=1e-6)
    allocatable = cpu.limit
    days = math.ceil((allocatable - 10_000) / 100)
    assert cpu.crossing == START + dt.timedelta(days=days)
    # Resources whose demand never changed never run out within the horizon (unless already over).
    memory = next(f for f in result.forecasts if (f.pool, f.resource) == ("thr-ab", "memory"))
    assert memory.trend is not None and memory.trend.slope == 0


def test_record_appends_once_a_day(tmp_path: Any) -> None:
    url = str(tmp_path / "l.db")
    first = forecasting.forecast(str(EXAMPLE), today=TODAY, horizon_days=30, ledger=url, record=True)
    again = forecasting.forecast(str(EXAMPLE), today=TODAY, horizon_days=30, ledger=url, record=True)
    assert (first.recorded, again.recorded) == (4, 0)
    assert all(f.problem.startswith("too little history") for f in again.forecasts)


def test_usage_runway_from_daily_peaks() -> None:
    # bale-messaging's memory peak grows 1Ti a day from 1Ti; thr-ab's envelope total is the limit.
    end = dt.datetime.combine(TODAY, dt.time(), dt.UTC)
    asked: list[str] = []

    def ask(promql: str) -> list[dict[str, Any]]:
        asked.append(promql)
        if "container_memory_working_set_bytes" not in promql:
            return []
        values = [[(end - dt.timedelta(days=30 - t)).timestamp(), str((1 + t) * 2**40)] for t in range(1, 31)]
        return [{"metric": {"dctenant_owner": "thr-ab"}, "values": values}]

    result = forecasting.forecast(str(EXAMPLE), today=TODAY, horizon_days=365, url="http://127.0.0.1:9",
                                  history_days=30, now=end, ask=ask)
    (memory,) = [f for f in result.forecasts if (f.pool, f.resource, f.series) == ("thr-ab", "memory", forecasts.USAGE)]
    assert len(asked) == 6  # one query per measure, whatever the number of tenants
    assert memory.points == 30 and memory.current == Decimal(31 * 2**40)
    # Point t (1..30) is the peak of day START+t-1 and equals (1+t) Ti: Ti per day; the limit L is reached
    # on the first day d with 1 + (d - day0) + 1 >= L / Ti, day0 = the first point's day.
    first = (end - dt.timedelta(days=29) - dt.timedelta(seconds=1)).date()
    need = math.ceil(memory.limit / Decimal(2**40)) - 2
    assert memory.crossing == first + dt.timedelta(days=need)


def test_cli_json(ledger: str) -> None:
    result = CliRunner().invoke(cli.cli, ["forecast", str(EXAMPLE), "--at", (START + dt.timedelta(days=30)).isoformat(),
                                          "--ledger", ledger, "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    row = next(f for f in data["forecasts"] if (f["pool"], f["resource"]) == ("thr-ab", "cpu"))
    assert row["exhausted"] is not None and row["problem"] is None
    assert data["horizonDays"] == 365
