"""The report figures by hand: coverage-weighted months, per-day envelopes, and "no data" as null."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dctenant.domain import periods, snapshots
from dctenant.engine import tallying

CPU = "cpu"


def r(tenant: str, stat: str, value: str, *, day: str = "", resource: str = CPU) -> snapshots.Rollup:
    return snapshots.Rollup(tenant=tenant, pool="p", resource=resource, stat=stat, value=value, day=day)


def by_key(rollups: tuple[snapshots.Rollup, ...]) -> dict[tuple[str, str, str], str]:
    return {(x.tenant, x.stat, x.day): x.value for x in rollups if x.resource == CPU} | {
        (x.tenant, x.stat, x.resource): x.value for x in rollups if x.resource != CPU}


def test_months_combine_by_covered_time_never_by_zeros() -> None:
    september, october = periods.parse("2026-09"), periods.parse("2026-10")
    # a: 10 cores over all of September, no data in October  → 10, coverage 30/61.
    # b: 4 cores over half of September, 7 over all of October → (4·15 + 7·31) / 46 = 277/46 = 6.022.
    combined = by_key(tallying.combine([
        (september, [r("a", "avg", "10"), r("a", "coverage", "1"), r("b", "avg", "4"), r("b", "coverage", "0.5"),
                     r("b", "total", "100", resource="traffic/egress")]),
        (october, [r("b", "avg", "7"), r("b", "coverage", "1"), r("b", "total", "50", resource="traffic/egress")]),
    ]))
    assert combined["a", "avg", ""] == "10" and combined["a", "coverage", ""] == "0.491803"
    assert combined["b", "avg", ""] == "6.022" and combined["b", "coverage", ""] == "0.754098"  # 46/61
    assert combined["b", "total", "traffic/egress"] == "150"


def test_days_over_against_each_days_envelope_and_the_boundary() -> None:
    key = ("t", "p", CPU)
    first, second, third = dt.date(2026, 11, 13), dt.date(2026, 11, 14), dt.date(2026, 11, 15)
    served, expired = {key: Decimal(800)}, {key: Decimal(0)}
    envelopes = {first: served, second: served, third: expired}
    rollups = [r("t", "avg", "800"), r("t", "coverage", "1"),
               r("t", "day-max", "800", day="2026-11-13"),  # exactly the envelope: not over
               r("t", "day-max", "800.001", day="2026-11-14"),  # a millicore above: over
               r("t", "day-max", "1", day="2026-11-15")]  # any use on an envelope of 0: over
    row = tallying.usage(envelopes, rollups)[0].rows[0]
    assert (row["daysOver"], row["daysWithData"]) == (2, 3)
    # Mean envelope (800 + 800 + 0) / 3 = 533.333; utilisation 800 / 533.333.
    assert row["envelope"] == "533.333" and row["utilisation"] == "1.500001"


def test_no_data_is_null_and_said() -> None:
    key = ("t", "p", CPU)
    envelopes = {dt.date(2026, 10, 1): {key: Decimal(8)}}
    usage, idle = tallying.usage(envelopes, [])
    row = usage.rows[0]
    assert (row["average"], row["daysOver"], row["utilisation"], row["status"], row["coverage"]) == (
        None, None, None, "no data", "0")
    assert (idle.rows[0]["idle"], idle.rows[0]["idleShare"], idle.rows[0]["status"]) == (None, None, "no data")
    traffic = tallying.traffic([], tenants=["t"])[0].rows[0]
    assert (traffic["egressBytes"], traffic["egressShare"], traffic["status"]) == (None, None, "no data")


def test_partial_coverage_is_flagged_exactly_below_one() -> None:
    key = ("t", "p", CPU)
    envelopes = {dt.date(2026, 10, 1): {key: Decimal(8)}}
    full = tallying.usage(envelopes, [r("t", "avg", "2"), r("t", "coverage", "1")])[0].rows[0]
    almost = tallying.usage(envelopes, [r("t", "avg", "2"), r("t", "coverage", "0.999999")])[0].rows[0]
    assert (full["status"], almost["status"]) == ("complete", "partial")
