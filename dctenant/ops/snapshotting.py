"""``dctenant snapshot``: store a period's usage rollups in the ledger database, replacing older ones.

Which namespaces belong to which tenant and pool comes from dctenant's own desired state (the
allocation's namespace quotas), as in enforcement. Re-running a snapshot for a period replaces
its rows and records in the chain that it did, with the digests before and after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dctenant.clients import history, ledger_db, prometheus, snapshot_db
from dctenant.domain import audit_events, periods
from dctenant.loaders import loading
from dctenant.ops import planning


@dataclass(frozen=True, kw_only=True)
class SnapshotResult:
    period: periods.Period
    rows: int
    tenants: int
    queries: int
    partial: bool
    event: audit_events.LedgerEvent

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period.label, "start": audit_events.stamp(self.period.start),
                "end": audit_events.stamp(self.period.end), "rows": self.rows, "tenants": self.tenants,
                "queries": self.queries, "partial": self.partial,
                "replaced": self.event.kind == audit_events.SNAPSHOT_REPLACED,
                "ledgerEvent": self.event.seq, "digest": self.event.after["digest"]}


def snapshot(path: str, *, period: periods.Period, now: dt.datetime, ledger: ledger_db.Ledger, url: str,
             config: str | None = None, step: str = "5m", actor: str,
             ask: prometheus.Asker | None = None) -> SnapshotResult:
    """Ask Prometheus at ``url`` for the period's rollups and store them (``ask`` replaces the HTTP client in tests)."""
    model = loading.load(path)
    allocation = planning.allocate(model, at=min(period.last_day, now.date()))
    namespaces = {ns.namespace: (ns.tenant, ns.pool) for ns in allocation.namespaces}
    client = prometheus.Prometheus(prometheus.settings(url, config=config), ask=ask)
    found = history.collect(client, namespaces=namespaces, period=period, now=now, step=step)
    evaluated = f" (evaluated at {audit_events.stamp(found.end)}, partial)" if found.partial else ""
    source = prometheus.redact(url) + evaluated
    _, event = snapshot_db.open_snapshots(ledger).take(period=period, rollups=found.rollups, source=source,
                                                      actor=actor, at=now, partial=found.partial,
                                                      evaluated_until=found.end)
    return SnapshotResult(period=period, rows=len(found.rollups), tenants=len({r.tenant for r in found.rollups}),
                          queries=found.queries, partial=found.partial, event=event)
