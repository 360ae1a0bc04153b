"""``report forecast`` and ``report reclaim``: CSV and JSON figures against hand-computed values.

Forecast: the ledger holds 30 days of ``plan-recorded`` events from 2026-10-28 in which thr-ab's CPU
demand is exactly 10,000 + 100·t cores; today's own point (the example's plan) is off that line, and
the robust fit ignores it. So the trend reaches thr-ab's allocatable A on day ⌈(A − 10,000) / 100⌉
after 2026-10-28; with A = 31,200 (thr-ab's 16,000 cores, as the plan's pool reports it) that is
day 212: 2026-10-28 + 212 days = 2027-05-28 (4 days to 1 Nov, then 30 + 31 + 31 + 28 + 31 + 30 + 27).
Every other pair of slopes is 100 except the 30 through today's point, so Sen's 80 % interval
(ranks 194 and 271 of 465) is 100 as well: earliest = latest = 2027-05-28. In the Solar Hijri
calendar, 1406 began on 21 March 2027 (Farvardin and Ordibehesht have 31 days): 28 May is Khordad 7,
1406/03/07.

Reclaim: a fake Prometheus says bale's p95 CPU in thr-ab over the window is 1,000 cores and its
memory peak 4Ti, for every step of the window; eitaa has no series at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from dctenant.cli import main as cli
from dctenant.clients import ledger_db, prometheus
from dctenant.domain import audit_events, periods
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import forecasting, planning, reporting, runway_reporting
from dctenant.render.reports import cells, csv_form, json_form
from tests.conftest import EXAMPLE

TODAY = dt.date(2026, 11, 27)
START = dt.date(2026, 10, 28)
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
TI = 2**40


@pytest.fixture
def ledger(tmp_path: Any) -> str:
    url = str(tmp_path / "ledger.db")
    totals = forecasting.demand_totals(planning.plan(str(EXAMPLE), at=TODAY).allocation)
    with ledger_db.open_ledger(url) as opened:
        for t in range(30):
            for pool, values in totals.items():
                after = {k: dict(v) for k, v in values.items()}
                if pool == "thr-ab":
                    after["cpu"]["demand"] = str(10_000 + 100 * t)
                opened.append(kind=forecasting.PLAN_RECORDED, actor="test", subject={"pool": pool}, after=after,
                              at=dt.datetime.combine(START + dt.timedelta(days=t), dt.time(6), dt.UTC))
    return url


def _forecast(url: str, **kwargs: Any) -> Any:
    with ledger_db.open_ledger(url) as opened:
        return runway_reporting.build_forecast(path=str(EXAMPLE), now=NOW, ledger=opened, horizon_days=365,
                                               url=None, config=None, history_days=90, **kwargs)


def _allocatable(pool: str, key: str) -> Decimal:
    model = loading.load(EXAMPLE)
    (found,) = [r.allocatable for p in planning.allocate(model, at=TODAY).pools.values() if p.name == pool
                for r in p.resources if r.key == key]
    return found


def test_forecast_json_gives_the_hand_computed_day(ledger: str) -> None:
    assert _allocatable("thr-ab", "cpu") == 31_200
    data = json.loads(json_form.render(_forecast(ledger, calendar="gregorian", zone=None)))
    assert data["report"] == "forecast" and data["inputs"]["today"] == "2026-11-27"
    # The horizon: today to today + 365 days, both included (the crossing is looked for on each of them).
    period = data["period"]
    assert (period["start"], period["end"]) == ("2026-11-27T00:00:00.000000Z", "2027-11-28T00:00:00.000000Z")
    rows = {(r["pool"], r["resource"], r["series"]): r for r in data["sections"]["runway"]["rows"]}
    cpu = rows["thr-ab", "cpu", "demand"]
    assert (cpu["exhausted"], cpu["earliest"], cpu["latest"]) == ("2027-05-28", "2027-05-28", "2027-05-28")
    assert cpu["points"] == 31 and cpu["limit"] == "31200" and cpu["slopePerDay"] == "100"
    assert cpu["status"] == "runs out" and cpu["note"] is None
    # A flat demand below its limit: no date (null), said in words by the status.
    memory = rows["isf-1", "memory", "demand"]
    assert memory["exhausted"] is None and memory["status"] == "beyond horizon" and memory["slopePerDay"] == "0"


def test_too_little_history_is_unknown_not_never(tmp_path: Any) -> None:
    report = _forecast(str(tmp_path / "empty.db"), calendar="gregorian", zone=None)
    rows = report.section("runway").rows
    assert rows and all(r["status"] == "unknown" and r["exhausted"] is None and r["slopePerDay"] is None for r in rows)
    assert all(r["note"] == ("too little history: 1 daily point(s) over 0 day(s); a forecast needs at least 14 "
                             "points over 14 days") for r in rows)
    assert any("unknown" in w and "not \"never\"" in w for w in report.warnings)
    column = next(c for c in report.section("runway").columns if c.key == "exhausted")
    assert cells.show(column, rows[0], style=cells.Style()) == "unknown"


def test_forecast_csv_rows(ledger: str) -> None:
    text = csv_form.render(_forecast(ledger, calendar="jalali", zone=None))
    table = list(csv.DictReader(io.StringIO(text)))
    meta = {r["key"]: r["value"] for r in table if r["section"] == "meta"}
    assert meta["report"] == "forecast" and meta["calendar"] == "jalali" and meta["zone"] == "Asia/Tehran"
    (cpu,) = [r for r in table if r["section"] == "runway" and (r["pool"], r["resource"]) == ("thr-ab", "cpu")]
    # CSV keeps ISO dates whatever the calendar shown to people; 18,700 / 31,200 = 0.59936 → 0.5994.
    assert cpu["exhausted"] == "2027-05-28" and cpu["limit"] == "31200" and cpu["status"] == "runs out"
    assert cpu["used"] == f"{Decimal(cpu['current']) / 31200:.4f}"
    flat = next(r for r in table if r["section"] == "runway" and r["status"] == "beyond horizon")
    assert flat["exhausted"] == ""  # null in CSV is an empty cell, never 0


def test_jalali_dates_in_the_table_cells(ledger: str) -> None:
    report = _forecast(ledger, calendar="jalali", zone=None)
    section = report.section("runway")
    row = next(r for r in section.rows if (r["pool"], r["resource"]) == ("thr-ab", "cpu"))
    column = next(c for c in section.columns if c.key == "exhausted")
    assert cells.show(column, row, style=cells.Style(calendar="jalali")) == "1406/03/07"
    assert cells.show(column, row, style=cells.Style(calendar="jalali", digits=True)) == "۱۴۰۶/۰۳/۰۷"
    flat = next(r for r in section.rows if r["status"] == "beyond horizon")
    assert cells.show(column, flat, style=cells.Style()) == "beyond horizon"


# -- reclaim ---------------------------------------------------------------------------------------

WINDOW = periods.parse("2026-11-01..2026-11-14")  # 14 days: 4,032 steps of 5 minutes


def fake_prometheus(steps: int) -> prometheus.Asker:
    base = prometheus.queries(prometheus.settings("http://127.0.0.1:9"))

    def ask(promql: str) -> list[dict[str, Any]]:
        def row(value: float) -> list[dict[str, Any]]:
            return [{"metric": {"dctenant_owner": "bale/thr-ab"}, "value": [0, str(value)]}]

        if base["cpu"] in promql:
            return row(steps if promql.startswith("count_over_time") else 1000)
        if base["memory"] in promql:
            return row(steps if promql.startswith("count_over_time") else 4 * TI)
        return []

    return ask


def _reclaim(tmp_path: Any, tenant: str | None = None) -> Any:
    with ledger_db.open_ledger(str(tmp_path / "l.db")) as opened:
        return runway_reporting.build_reclaim(path=str(EXAMPLE), now=NOW, ledger=opened, period=WINDOW,
                                              url="http://127.0.0.1:9", config=None, tenant=tenant,
                                              ask=fake_prometheus(4032))


def test_reclaim_json_figures(tmp_path: Any) -> None:
    model = loading.load(EXAMPLE)
    # Envelopes at the window's end: the plan's, which reclaim compares with and does not recompute.
    envelopes = planning.allocate(model, at=WINDOW.end.date()).tenants["bale"].shares["thr-ab"].envelope
    data = json.loads(json_form.render(_reclaim(tmp_path)))
    assert data["report"] == "reclaim" and data["period"]["label"] == "2026-11-01..2026-11-14"
    assert data["inputs"]["windowSeconds"] == 14 * 86400 and data["inputs"]["stepSeconds"] == 300
    method = next(s["detail"] for s in data["sources"] if s["name"] == "method")
    assert method == ("need = p95 of cpu, GPUs and bandwidth; peak + 15 % of memory and storage; propose when "
                      "≥ 20 % idle and ≥ 80 % of the window seen")
    rows = {(r["tenant"], r["pool"], r["resource"]): r for r in data["sections"]["reclaim"]["rows"]}
    cpu = rows["bale", "thr-ab", "cpu"]
    envelope = envelopes["cpu"]
    assert cpu["observed"] == "1000" and cpu["need"] == "1000" and cpu["coverage"] == "1.0000"
    assert cpu["idle"] == str(envelope - 1000) and cpu["status"] == "complete"
    assert cpu["idleRatio"] == f"{(envelope - 1000) / envelope:.4f}"
    memory = rows["bale", "thr-ab", "memory"]
    # 4Ti × 1.15 = 4,194,304 MiB × 1.15 = 4,823,449.6 MiB, rounded up to the memory unit (a MiB): 4,823,450 MiB.
    mib = math.ceil(4 * 1024 * 1024 * 115 / 100)
    assert mib == 4_823_450 and memory["need"] == str(mib * 2**20) and memory["statistic"] == "peak"
    # eitaa: no series at all → unknown, never zero.
    eitaa = rows["eitaa", "thr-ab", "cpu"]
    assert (eitaa["need"], eitaa["idle"], eitaa["idleRatio"], eitaa["status"]) == (None, None, None, "no data")
    assert eitaa["coverage"] == "0.0000"
    assert any("no data at all" in w and "not zero" in w for w in data["warnings"])


def test_reclaim_csv_and_tenant_filter(tmp_path: Any) -> None:
    table = list(csv.DictReader(io.StringIO(csv_form.render(_reclaim(tmp_path, tenant="bale")))))
    rows = [r for r in table if r["section"] == "reclaim"]
    assert rows and {r["tenant"] for r in rows} == {"bale"}
    cpu = next(r for r in rows if (r["pool"], r["resource"]) == ("thr-ab", "cpu"))
    assert cpu["need"] == "1000" and cpu["coverage"] == "1.0000"
    # Everything the fake Prometheus had no series for is an empty cell with "no data", never 0.
    unseen = [r for r in rows if r["resource"] not in ("cpu", "memory") or r["pool"] != "thr-ab"]
    assert unseen and all(r["need"] == "" and r["idle"] == "" and r["status"] == "no data" for r in unseen)


def test_report_cli_reclaim_needs_prometheus_and_forecast_refuses_period(tmp_path: Any) -> None:
    runner = CliRunner()
    ledger = str(tmp_path / "l.db")
    # The CLI's error boundary (cli.main) turns these UserErrors into one red line and exit 1.
    got = runner.invoke(cli.cli, ["report", "reclaim", str(EXAMPLE), "--ledger", ledger],
                        env={"DCTENANT_PROMETHEUS_URL": "", "DCTENANT_PROMETHEUS": ""})
    assert isinstance(got.exception, UserError) and "give --prometheus URL" in str(got.exception)
    got = runner.invoke(cli.cli, ["report", "forecast", str(EXAMPLE), "--ledger", ledger, "--period", "2026-10"])
    assert isinstance(got.exception, UserError) and "give --horizon, not --period" in str(got.exception)


def test_report_cli_forecast_writes_and_records(tmp_path: Any, ledger: str) -> None:
    out = tmp_path / "forecast.json"
    got = CliRunner().invoke(cli.cli, ["report", "forecast", str(EXAMPLE), "--ledger", ledger, "-o", "json",
                                       "--out", str(out), "--generated-at", "2026-11-27T09:00:00Z"])
    assert got.exit_code == 0, got.output
    data = json.loads(out.read_text(encoding="utf-8"))
    cpu = next(r for r in data["sections"]["runway"]["rows"] if (r["pool"], r["resource"]) == ("thr-ab", "cpu"))
    assert cpu["exhausted"] == "2027-05-28"
    with ledger_db.open_ledger(ledger) as opened:
        issued = [e for e in opened.events() if e.kind == audit_events.REPORT_ISSUED]
    assert len(issued) == 1 and issued[0].subject["report"] == "forecast"


def test_reproduce_refuses_a_planning_report_in_words(tmp_path: Any, ledger: str) -> None:
    out = tmp_path / "forecast.csv"
    with ledger_db.open_ledger(ledger) as opened:
        out.write_text(csv_form.render(runway_reporting.build_forecast(
            path=str(EXAMPLE), now=NOW, ledger=opened, horizon_days=30, url=None, config=None, history_days=90,
            calendar="gregorian", zone=None)), encoding="utf-8")
        with pytest.raises(UserError, match="forecast report: it reads Prometheus"):
            reporting.reproduce(str(out), ledger=opened)


def test_forecast_command_writes_the_same_page(ledger: str) -> None:
    got = CliRunner().invoke(cli.cli, ["forecast", str(EXAMPLE), "--at", "2026-11-27", "--ledger", ledger,
                                       "-o", "html", "--calendar", "jalali"], catch_exceptions=False)
    assert got.exit_code == 0
    assert got.stdout.startswith("<!DOCTYPE html>") and got.stdout.count('<svg class="plot runway"') > 0
    assert "reaches the limit on 1406/03/07" in got.stdout
