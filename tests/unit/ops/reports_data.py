"""A deterministic ledger for report tests: events and a usage snapshot for the shipped example.

Everything is fixed (times, values, the ledger's path is replaced in outputs), so reports built
from it are byte-for-byte stable and can be compared with golden files.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from decimal import ROUND_FLOOR, Decimal

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import audit_events, periods, resources, snapshots
from dctenant.loaders import loading
from dctenant.ops import planning

ROOT = pathlib.Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)
OCTOBER = periods.parse("2026-10")


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=dt.UTC)


def fill(ledger: ledger_db.Ledger) -> None:
    """Events of October 2026, then October's snapshot taken on 1 November."""
    ledger.append(kind=audit_events.ALLOCATION_APPLIED, actor="ops@ndc", subject={"pool": "thr-ab"},
                  after={"writes": 12}, reason="monthly apply", at=at(1, 8))
    ledger.append(kind=audit_events.ENFORCEMENT_DECISION, actor="dctenant-enforcer",
                  subject={"tenant": "rubika", "pool": "thr-ab", "resource": "bandwidth/egress"},
                  after={"state": "breach", "usage": "130000000000"}, reason="egress above envelope for 10m",
                  at=at(5, 14, 0))
    ledger.append(kind=audit_events.ACTION_TAKEN, actor="dctenant-enforcer",
                  subject={"tenant": "rubika", "pool": "thr-ab", "resource": "bandwidth/egress"},
                  after={"action": "throttle"}, reason="sustained breach", at=at(5, 14, 30))
    ledger.append(kind=audit_events.ACTION_UNDONE, actor="dctenant-enforcer",
                  subject={"tenant": "rubika", "pool": "thr-ab", "resource": "bandwidth/egress"},
                  after={"action": "undo-throttle"}, reason="recovered for 15m", at=at(5, 16, 45))
    ledger.append(kind=audit_events.ACTION_TAKEN, actor="dctenant-enforcer",
                  subject={"tenant": "wispi", "pool": "isf-1", "resource": "licence"},
                  after={"action": "suspend"}, reason="licence expired beyond grace", at=at(20, 0, 5))
    ledger.append(kind=audit_events.LICENCE_CHANGED, actor="regulator@cra", subject={"tenant": "gap"},
                  before={"expires": "2026-10-31"}, after={"expires": "2027-10-31"}, reason="renewed", at=at(28, 10))
    snapshot_db.open_snapshots(ledger).take(period=OCTOBER, rollups=rollups(), source="http://127.0.0.1:9090",
                                            actor="ops@ndc", at=dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC))


def rollups() -> list[snapshots.Rollup]:
    """Usage of a fixed fraction of every namespace's quota, with a few days over the envelope."""
    model = loading.load(ROOT / "quotas")
    allocation = planning.allocate(model, at=OCTOBER.last_day)
    out: list[snapshots.Rollup] = []
    for n, (tid, t) in enumerate(sorted(allocation.tenants.items())):
        for pool, share in sorted(t.shares.items()):
            level = [0.3, 0.55, 0.8, 0.95][n % 4]
            for key, envelope in sorted(share.envelope.items()):
                if envelope == 0:
                    continue
                figures = {snapshots.AVERAGE: envelope * _d(level), snapshots.P95: envelope * _d(level + 0.1),
                           snapshots.MAXIMUM: envelope * _d(level + 0.2)}
                for stat, value in figures.items():
                    out.append(snapshots.Rollup(tenant=tid, pool=pool, resource=key, stat=stat, value=_q(key, value)))
                for day in range(1, 32):
                    over = 1.05 if (day + n) % 10 == 0 else 0.9
                    out.append(snapshots.Rollup(tenant=tid, pool=pool, resource=key, stat=snapshots.DAY_MAXIMUM,
                                                day=f"2026-10-{day:02d}", value=_q(key, envelope * _d(over))))
            if t.licence.served:
                base = (n + 1) * 10**13
                out.append(snapshots.Rollup(tenant=tid, pool=pool, resource=snapshots.TRAFFIC_EGRESS,
                                            stat=snapshots.TOTAL, value=str(base * 3)))
                out.append(snapshots.Rollup(tenant=tid, pool=pool, resource=snapshots.TRAFFIC_INGRESS,
                                            stat=snapshots.TOTAL, value=str(base)))
    return out


def _d(value: float) -> Decimal:
    return Decimal(str(value))


def _q(key: str, value: Decimal) -> str:
    step = resources.FINEST[resources.kind(key)]
    amount = Decimal(str(value))
    return resources.plain((amount / step).to_integral_value(ROUND_FLOOR) * step)
