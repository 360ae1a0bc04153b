"""Benchmarks of the audit ledger and the usage report (issue 7).

Run: python -m pytest tests/benchmarks/bench_ledger.py -p no:cacheprovider -s
Targets: append 100,000 events and verify the chain (events/s; verify >= 50,000/s on SQLite);
a monthly usage report for 1,000 tenants from snapshots in under 2 s.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from decimal import Decimal

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import audit_events, periods, pools, quotas, resources, snapshots, tenants
from dctenant.engine import tallying
from dctenant.ops import planning, reporting
from tests.benchmarks import bench_allocating

N = 100_000
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def _drafts(n: int) -> list[ledger_db.Draft]:
    return [ledger_db.Draft(kind=audit_events.ENFORCEMENT_DECISION, actor="dctenant-enforcer",
                          subject={"tenant": f"t{i % 1000:04d}", "pool": "p0", "resource": "cpu"},
                          before={"state": "ok"}, after={"state": "warning", "usage": str(i)},
                          reason="usage above 80% of the envelope", at=T0 + dt.timedelta(seconds=i))
            for i in range(n)]


def test_append_and_verify_sqlite(tmp_path: pathlib.Path) -> None:
    ledger = ledger_db.open_ledger(str(tmp_path / "bench.db"))
    drafts = _drafts(N)
    single = 5_000
    started = time.perf_counter()
    for d in drafts[:single]:
        ledger.append(kind=d.kind, actor=d.actor, subject=d.subject, before=d.before, after=d.after,
                      reason=d.reason, at=d.at)
    one_by_one = single / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(single, N, 1000):
        ledger.append_many(drafts[i:i + 1000])
    batched = (N - single) / (time.perf_counter() - started)
    started = time.perf_counter()
    report = ledger.verify()
    verify_rate = N / (time.perf_counter() - started)
    assert report.intact and report.events == N
    print(f"\nSQLite: append {one_by_one:,.0f} events/s one transaction each, {batched:,.0f} events/s in "
          f"batches of 1,000; verify {verify_rate:,.0f} events/s ({N:,} events)")
    assert verify_rate >= 50_000
    ledger.close()


def test_monthly_usage_report_for_1000_tenants(tmp_path: pathlib.Path) -> None:
    datacentre, members = bench_allocating.estate(1000, 1, (1, 1))
    model = quotas.Quotas(datacentre=datacentre, policy=bench_allocating.POLICY, tenants=tuple(members))
    allocation = planning.allocate(model, at=dt.date(2026, 10, 31))
    october = periods.parse("2026-10")
    rollups = []
    for tid, t in allocation.tenants.items():
        for pool, share in t.shares.items():
            for key, envelope in share.envelope.items():
                half = resources.plain((envelope / 2).quantize(Decimal(1)))
                for stat in (snapshots.AVERAGE, snapshots.P95, snapshots.MAXIMUM):
                    rollups.append(snapshots.Rollup(tenant=tid, pool=pool, resource=key, stat=stat, value=half))
                rollups += [snapshots.Rollup(tenant=tid, pool=pool, resource=key, stat=snapshots.DAY_MAXIMUM,
                                             day=f"2026-10-{d:02d}", value=half) for d in range(1, 32)]
    ledger = ledger_db.open_ledger(str(tmp_path / "usage.db"))
    store = snapshot_db.open_snapshots(ledger)
    info, _ = store.take(period=october, rollups=rollups, source="bench", actor="bench",
                         at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    started = time.perf_counter()
    stored = store.rollups(snapshot=info.id)
    read = time.perf_counter() - started
    envelopes = reporting.daily_envelopes(model, period=october, until=october.end)
    sections = tallying.usage(envelopes, stored)
    elapsed = time.perf_counter() - started
    print(f"\nusage report, 1,000 tenants, {len(stored):,} rollups: {elapsed:.2f} s (reading {read:.2f} s)")
    assert len(sections[0].rows) == sum(len(s.envelope) for t in allocation.tenants.values()
                                         for s in t.shares.values())
    assert elapsed < 2.0
    ledger.close()
    assert pools and tenants  # the estate's types, imported for readers of this benchmark
