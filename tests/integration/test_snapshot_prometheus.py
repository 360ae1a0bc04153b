"""``dctenant snapshot`` against a real Prometheus scraping the workload simulator (enforcement's harness).

The simulator runs the example's pool ``thr-ab`` at half of every envelope. Prometheus holds only
the last seconds, so the period is today (whole UTC days are the unit) and the snapshot is partial:
evaluated at now, which is also what an operator gets mid-month.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator
from decimal import Decimal

import pytest

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import periods, snapshots
from dctenant.loaders import loading
from dctenant.ops import planning, reporting, snapshotting
from tests.integration import prometheus_harness, simulator

pytestmark = pytest.mark.integration
ROOT = pathlib.Path(__file__).resolve().parents[2]
POOL = "thr-ab"


@pytest.fixture(scope="module")
def prom() -> Iterator[prometheus_harness.Prometheus]:
    model = loading.load(ROOT / "quotas")
    allocation = planning.allocate(model, at=dt.datetime.now(dt.UTC).date())
    sim = simulator.Simulator(simulator.loads_for(model, allocation, pools=[POOL])).start()
    server = prometheus_harness.Prometheus(sim.address).start()
    try:
        server.wait_until("up == 1", count=3)
        server.wait_until('count_over_time(up{job="kube-state-metrics"}[10s]) >= 7', timeout=30)
        yield server
    finally:
        server.cleanup()
        sim.stop()


def test_snapshot_stores_rollups_and_keeps_versions(prom: prometheus_harness.Prometheus,
                                                     tmp_path: pathlib.Path) -> None:
    config = tmp_path / "prometheus.yaml"
    config.write_text("rateWindow: 5s\n", encoding="utf-8")
    now = dt.datetime.now(dt.UTC)
    today = periods.span(now.date(), now.date())
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    first = snapshotting.snapshot(str(ROOT / "quotas"), period=today, now=now, ledger=ledger, url=prom.url,
                                  config=str(config), step="2s", actor="test")
    assert first.partial and first.rows > 0 and first.event.kind == "snapshot-taken"
    # avg, p95, max, coverage and one day's maximum per measure; two traffic totals.
    assert first.queries == 6 * 5 + 2
    stored = snapshot_db.open_snapshots(ledger).rollups(snapshot=first.event.after["snapshot"])
    rows = {r.key(): Decimal(r.value) for r in stored}
    model = loading.load(ROOT / "quotas")
    envelope = planning.allocate(model, at=now.date()).tenants["bale"].shares[POOL].envelope
    memory = rows["bale", POOL, "memory", snapshots.AVERAGE, ""]
    assert abs(memory / envelope["memory"] - Decimal("0.5")) < Decimal("0.01")  # a gauge: exact
    cpu = rows["bale", POOL, "cpu", snapshots.P95, ""]
    assert abs(cpu / envelope["cpu"] - Decimal("0.5")) < Decimal("0.1")  # a rate over a short window
    assert rows["bale", POOL, "cpu", snapshots.DAY_MAXIMUM, now.date().isoformat()] > 0
    assert ("bale", POOL, "storage/ssd-standard", snapshots.MAXIMUM, "") in rows
    egress = rows["bale", POOL, snapshots.TRAFFIC_EGRESS, snapshots.TOTAL, ""]
    # Bytes sent so far at half the envelope (bits/s), not the host-network agent's 1e12 B/s.
    assert 0 < egress < envelope["bandwidth/egress"] / 8 * 120
    assert all(tenant != "navak" or pool == POOL for tenant, pool, *_ in rows)

    again = snapshotting.snapshot(str(ROOT / "quotas"), period=today, now=dt.datetime.now(dt.UTC), ledger=ledger,
                                  url=prom.url, config=str(config), step="2s", actor="test")
    assert again.event.kind == "snapshot-replaced" and again.event.before["rows"] == first.rows
    assert (first.info.version, again.info.version) == (1, 2)
    assert ledger.verify().intact
    report = reporting.build("traffic", path=str(ROOT / "quotas"), period=today, now=dt.datetime.now(dt.UTC),
                             ledger=ledger)
    assert report.ledger_seq == 2 and {r["tenant"] for r in report.section("traffic").rows} >= {"bale"}
    ledger.close()
