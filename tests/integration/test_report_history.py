"""Usage and traffic reports against a real Prometheus holding a backfilled history with known answers.

Every figure asserted here is computed by hand from the series below (samples every 60 s,
snapshot step 5 m, rate window 5 m, so a period of 3 whole days has 3 × 288 = 864 evaluation
points). The period is 2026-10-01..2026-10-03 (UTC days) unless a test says otherwise.

- bale (bale-messaging): a rollout at 10-02 12:00, pod msg-a → msg-b, each sending 1e9 B/s and
  receiving 0.5e9 B/s; a host-network agent sends 1e12 B/s (the node's traffic, excluded).
- soroush (soroush-messaging): scaled down to zero at 10-02 00:00 (2e9 B/s out until then).
- igap (igap-messaging): every series ends at 10-03 06:00 (1e9 B/s out, 3 cores).
- eitaa (eitaa-messaging): 2 cores, with a 6-hour scrape gap on 10-02 (06:00, 12:00) during
  which the counter runs at 10 cores unseen.
- rubika (rubika-messaging): 1 core, spikes to 100,000 cores in (10-01 23:55, 24:00] and in
  (10-03 12:00, 12:05].
- peyk: no series at all.
- gap (gap-messaging): 1 core from 2026-11-12 23:00 to 11-17 01:00; its licence expired
  2026-10-31 and its 14 grace days end on 11-14, so its envelope is 0 from 11-15.
- navak (navak-ml): 10 cores through September only (to 2026-10-01 00:00).
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import periods
from dctenant.errors import UserError
from dctenant.ops import reporting, snapshotting
from dctenant.render.reports import cells
from tests.integration import backfill
from tests.integration.backfill import CADVISOR, KSM, Series, constant, utc
from tests.integration.prometheus_harness import Prometheus

pytestmark = pytest.mark.integration
ROOT = pathlib.Path(__file__).resolve().parents[2]
QUOTAS = str(ROOT / "quotas")
P = periods.parse("2026-10-01..2026-10-03")
W0, W1 = utc(2026, 9, 30, 23), utc(2026, 10, 4, 1)  # the data around P, one hour either side
ROLLOUT = utc(2026, 10, 2, 12)
NOW = dt.datetime.now(dt.UTC)
# Prometheus' increase() extrapolates a series that ends inside the range by half a sample
# interval (30 s); at 1e9 B/s that is 3e10 B on a total of 2.592e14 (0.012 %).
HALF_SAMPLE = Decimal(30)


def pod(ns: str, name: str, first: dt.datetime, last: dt.datetime, *, out: float, into: float = 0.0,
        host: bool = False) -> list[Series]:
    where = {"namespace": ns, "pod": name}
    return [
        Series(name="kube_pod_info", labels={**KSM, **where, "host_network": str(host).lower()}, first=first,
               last=last, fn=constant(1)),
        Series(name="container_network_transmit_bytes_total", labels={**CADVISOR, **where, "interface": "eth0"},
               first=first, last=last, fn=constant(out), counter=True),
        Series(name="container_network_receive_bytes_total", labels={**CADVISOR, **where, "interface": "eth0"},
               first=first, last=last, fn=constant(into), counter=True)]


def cpu(ns: str, first: dt.datetime, last: dt.datetime, rate: Any, missing: Any = lambda _t: False) -> Series:
    return Series(name="container_cpu_usage_seconds_total",
                  labels={**CADVISOR, "namespace": ns, "pod": f"{ns}-0", "container": "app", "image": "app:1"},
                  first=first, last=last, fn=rate if callable(rate) else constant(rate), counter=True,
                  missing=missing)


def spikes(t: dt.datetime) -> float:
    late = utc(2026, 10, 1, 23, 55) < t <= utc(2026, 10, 2)
    noon = utc(2026, 10, 3, 12) < t <= utc(2026, 10, 3, 12, 5)
    return 100_000.0 if late or noon else 1.0


def hidden(t: dt.datetime) -> float:
    return 10.0 if utc(2026, 10, 2, 6) < t <= utc(2026, 10, 2, 12) else 2.0


def gap_hours(t: dt.datetime) -> bool:
    return utc(2026, 10, 2, 6) < t < utc(2026, 10, 2, 12)


def history() -> list[Series]:
    ends = utc(2026, 10, 3, 6)
    return [
        *pod("bale-messaging", "msg-a", W0, ROLLOUT, out=1e9, into=0.5e9),
        *pod("bale-messaging", "msg-b", ROLLOUT, W1, out=1e9, into=0.5e9),
        *pod("bale-messaging", "agent", W0, W1, out=1e12, into=1e12, host=True),
        *pod("soroush-messaging", "s-1", W0, utc(2026, 10, 2), out=2e9, into=1e9),
        *pod("igap-messaging", "i-1", W0, ends, out=1e9),
        cpu("igap-messaging", W0, ends, 3.0),
        cpu("eitaa-messaging", W0, W1, hidden, missing=gap_hours),
        cpu("rubika-messaging", W0, W1, spikes),
        cpu("gap-messaging", utc(2026, 11, 12, 23), utc(2026, 11, 17, 1), 1.0),
        cpu("navak-ml", utc(2026, 8, 31, 23), utc(2026, 10, 1), 10.0),
    ]


@pytest.fixture(scope="module")
def prom() -> Iterator[Prometheus]:
    server = backfill.started(backfill.openmetrics(history()), max_block_duration="744h")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def ledger(tmp_path: pathlib.Path) -> Iterator[ledger_db.Ledger]:
    opened = ledger_db.open_ledger(str(tmp_path / "ledger.db"))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def taken(prom: Prometheus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ledger_db.Ledger]:
    """One snapshot of P, shared by the tests that only read it."""
    opened = ledger_db.open_ledger(str(tmp_path_factory.mktemp("taken") / "ledger.db"))
    take(prom, opened, P)
    yield opened
    opened.close()


def take(prom: Prometheus, ledger: ledger_db.Ledger, period: periods.Period,
         now: dt.datetime = NOW, step: str = "5m") -> snapshotting.SnapshotResult:
    return snapshotting.snapshot(QUOTAS, period=period, now=now, ledger=ledger, url=prom.url, step=step,
                                 actor="test")


def report(ledger: ledger_db.Ledger, kind: str, period: periods.Period = P, now: dt.datetime = NOW,
           **kw: Any) -> reporting.reports.Report:
    return reporting.build(kind, path=QUOTAS, period=period, now=now, ledger=ledger, **kw)


def rows(section: reporting.reports.Section, *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: dict(r) for r in section.rows}


def near(value: str | None, expected: Decimal, slack: Decimal) -> bool:
    return value is not None and expected <= Decimal(value) <= expected + slack


def test_traffic_counts_every_pod_of_the_period(taken: ledger_db.Ledger) -> None:
    traffic = rows(report(taken, "traffic").section("traffic"), "tenant")
    # Rollout: 3 days × 86,400 s × 1e9 B/s = 2.592e14 B (the end-time join gave msg-b's 1.5 days only).
    assert near(traffic["bale"]["egressBytes"], Decimal("259.2e12"), HALF_SAMPLE * Decimal("1e9"))
    assert near(traffic["bale"]["ingressBytes"], Decimal("129.6e12"), HALF_SAMPLE * Decimal("0.5e9"))
    assert traffic["bale"]["status"] == "complete"
    # Scale-down to zero at 10-02 00:00: 1 day × 2e9 B/s = 1.728e14 B (the end-time join: no row).
    assert near(traffic["soroush"]["egressBytes"], Decimal("172.8e12"), HALF_SAMPLE * Decimal("2e9"))
    # Data ending at 10-03 06:00: 2.25 days × 1e9 B/s = 1.944e14 B, flagged: 648 of 864 points = 0.75.
    assert near(traffic["igap"]["egressBytes"], Decimal("194.4e12"), HALF_SAMPLE * Decimal("1e9"))
    assert (traffic["igap"]["coverage"], traffic["igap"]["status"]) == ("0.75", "partial")
    # No series: a row that says so, not a missing row and not zero.
    assert (traffic["peyk"]["egressBytes"], traffic["peyk"]["status"]) == (None, "no data")


def test_gap_spike_and_no_series(taken: ledger_db.Ledger) -> None:
    built = report(taken, "usage")
    usage = rows(built.section("usage"), "tenant", "pool", "resource")
    eitaa = usage["eitaa", "thr-ab", "cpu"]
    # 72 points (06:05 … 12:00) of 864 have no rate: coverage 792 / 864; the average covers them only.
    assert (eitaa["coverage"], eitaa["status"], eitaa["average"], eitaa["maximum"]) == (
        "0.916667", "partial", "2", "2")
    assert eitaa["daysWithData"] == 3
    # The spike in (23:55, 24:00] of 10-01 is read at the 00:00 point, which measures 10-01: one day,
    # plus the noon spike on 10-03: 2 days over (3 when the 00:00 point counted for both days).
    rubika = usage["rubika", "thr-ab", "cpu"]
    assert (rubika["daysOver"], rubika["daysWithData"]) == (2, 3)
    peyk = [r for (t, _, _), r in usage.items() if t == "peyk"]
    assert peyk and all(r["average"] is None and r["daysOver"] is None and r["status"] == "no data"
                        for r in peyk)
    idle = rows(built.section("idle"), "tenant", "resource")
    assert (idle["peyk", "cpu"]["idle"], idle["peyk", "cpu"]["idleShare"]) == (None, None)
    # igap's cpu: 3 cores while there was data, 648 of 864 points.
    assert (usage["igap", "thr-ab", "cpu"]["average"], usage["igap", "thr-ab", "cpu"]["coverage"]) == ("3", "0.75")
    html = reporting.render(built, output="html", style=cells.Style())
    assert "no data" in html and "91.7% (partial)" in html


def test_envelope_per_day_when_grace_ends_mid_period(prom: Prometheus, ledger: ledger_db.Ledger) -> None:
    grace = periods.parse("2026-11-13..2026-11-16")
    take(prom, ledger, grace)
    gap = rows(report(ledger, "usage", period=grace).section("usage"), "tenant", "pool", "resource")
    row = gap["gap", "thr-ab", "cpu"]
    # 11-13 and 11-14 in grace (1 core ≤ the envelope), 11-15 and 11-16 expired (envelope 0): 2 days over,
    # not 4 (the last day's envelope, 0, for every day); the mean envelope is half the served one.
    assert (row["daysOver"], row["daysWithData"], row["average"]) == (2, 4, "1")
    served = reporting.daily_envelopes(reporting.loading.load(QUOTAS), period=grace, until=grace.end)
    assert served[dt.date(2026, 11, 14)]["gap", "thr-ab", "cpu"] > 0
    assert served[dt.date(2026, 11, 15)].get(("gap", "thr-ab", "cpu"), Decimal(0)) == 0
    assert Decimal(row["envelope"]) == served[dt.date(2026, 11, 14)]["gap", "thr-ab", "cpu"] / 2


def test_partial_period_is_said_at_the_top(prom: Prometheus, ledger: ledger_db.Ledger) -> None:
    midway = utc(2026, 10, 2, 12)
    result = take(prom, ledger, P, now=midway)
    assert result.partial and result.info.partial and any("has not ended" in w for w in result.warnings)
    built = report(ledger, "usage", now=midway + dt.timedelta(hours=1))
    assert built.partial and built.warnings[0].startswith("PARTIAL")
    data = json.loads(reporting.render(built, output="json", style=cells.Style()))
    assert data["partial"] is True and data["inputs"]["snapshots"][0]["partial"] is True
    html = reporting.render(built, output="html", style=cells.Style())
    assert html.index('class="partial"') < html.index('<dl class="meta">')
    # Up to 10-02 12:00: 432 rate points, of which eitaa misses 72 (06:05 … 12:00): 360 / 432.
    eitaa = rows(built.section("usage"), "tenant", "pool", "resource")["eitaa", "thr-ab", "cpu"]
    assert (eitaa["coverage"], eitaa["daysWithData"]) == ("0.833333", 2)


def test_two_months_combine_by_coverage(prom: Prometheus, ledger: ledger_db.Ledger) -> None:
    # An hourly step keeps the two month-long snapshots cheap; coverage counts hourly points alike.
    take(prom, ledger, periods.parse("2026-09"), step="1h")
    take(prom, ledger, periods.parse("2026-10"), step="1h")
    both = periods.parse("2026-09-01..2026-10-31")
    navak = rows(report(ledger, "usage", period=both).section("usage"), "tenant", "pool", "resource")
    row = navak["navak", "thr-pd", "cpu"]
    # 10 cores through September, nothing in October: the average is 10 (not 10 × 30/61 = 4.918),
    # over 30 of 61 days: coverage 30/61 = 0.491803.
    assert (row["average"], row["coverage"], row["status"], row["daysWithData"]) == ("10", "0.491803", "partial",
                                                                                       30)


def test_no_data_at_all_warns_and_reports_no_data(prom: Prometheus, ledger: ledger_db.Ledger) -> None:
    august = periods.parse("2026-08-01..2026-08-02")
    result = take(prom, ledger, august)
    assert result.rows == 0 and any(w.startswith("0 rollups") for w in result.warnings)
    usage = report(ledger, "usage", period=august).section("usage").rows
    assert usage and all(r["daysOver"] is None and r["average"] is None and r["status"] == "no data" for r in usage)
    table = reporting.render(report(ledger, "usage", period=august), output="csv", style=cells.Style())
    assert ",no data" in table


def test_resnapshot_keeps_the_old_version_and_reproduce_is_identical(
        prom: Prometheus, ledger: ledger_db.Ledger, tmp_path: pathlib.Path) -> None:
    first = take(prom, ledger, P)
    built = report(ledger, "usage")
    out = tmp_path / "usage.json"
    reporting.issue(built, text=reporting.render(built, output="json", style=cells.Style()), out=str(out),
                    output="json", ledger=ledger, actor="auditor", now=NOW)
    again = take(prom, ledger, P)
    assert (first.info.version, again.info.version) == (1, 2) and again.event.kind == "snapshot-replaced"
    store = snapshot_db.open_snapshots(ledger)
    assert len(store.rollups(snapshot=first.info.id)) == first.rows  # the old version is kept
    assert again.event.before["snapshot"] == first.info.id
    # The issued report names version 1 and recomputes identically from it, its own issue event excluded.
    assert json.loads(out.read_text())["inputs"]["snapshots"][0]["version"] == 1
    reproduced = reporting.reproduce(str(out), ledger=ledger)
    assert reproduced.identical, reproduced.differences
    fresh = report(ledger, "usage", now=NOW + dt.timedelta(seconds=1))
    assert [s.name for s in fresh.sources][-2:] == ["snapshot 2026-10-01..2026-10-03 v2", "checkpoint"]
    assert ledger.verify().intact


def test_future_period_and_missing_prometheus_are_clear(prom: Prometheus, ledger: ledger_db.Ledger) -> None:
    future = periods.parse("2027-01")
    with pytest.raises(UserError, match="nothing to report yet") as caught:
        report(ledger, "usage", period=future)
    assert "dctenant snapshot" not in str(caught.value)
    with pytest.raises(UserError, match="in the future"):
        take(prom, ledger, future)
