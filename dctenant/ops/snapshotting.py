"""``dctenant snapshot``: store a period's usage rollups in the ledger database as a new version.

Which namespaces belong to which tenant and pool comes from dctenant's own desired state (the
allocation's namespace quotas, on the period's first and last day), as in enforcement.
Re-running a snapshot for a period adds a version and keeps the older ones; the ledger records
it with the digests before and after. A snapshot that found no series at all is stored (it is
the truth about what Prometheus held) but warned about: its reports will say "no data".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dctenant.clients import history, ledger_db, prometheus, snapshot_db
from dctenant.domain import audit_events, periods, snapshots
from dctenant.loaders import loading
from dctenant.ops import planning


@dataclass(frozen=True, kw_only=True)
class SnapshotResult:
    period: periods.Period
    rows: int
    tenants: int
    queries: int
    partial: bool
    info: snapshots.SnapshotInfo
    event: audit_events.LedgerEvent
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period.label, "calendar": self.period.calendar, "zone": self.period.zone,
                "start": audit_events.stamp(self.period.start), "end": audit_events.stamp(self.period.end),
                "rows": self.rows, "tenants": self.tenants, "queries": self.queries, "partial": self.partial,
                "snapshot": self.info.id, "version": self.info.version,
                "replaced": self.event.kind == audit_events.SNAPSHOT_REPLACED,
                "ledgerEvent": self.event.seq, "digest": self.event.after["digest"], "warnings": list(self.warnings)}


def snapshot(path: str, *, period: periods.Period, now: dt.datetime, ledger: ledger_db.Ledger, url: str,
             config: str | None = None, step: str = "5m", actor: str,
             ask: prometheus.Asker | None = None) -> SnapshotResult:
    """Ask Prometheus at ``url`` for the period's rollups and store them (``ask`` replaces the HTTP client in tests)."""
    model = loading.load(path)
    if period.start >= now:
        raise_future(period)
    namespaces: dict[str, tuple[str, str]] = {}
    for day in sorted({period.first_day, min(period.last_day, now.date())}):
        namespaces.update({ns.namespace: (ns.tenant, ns.pool) for ns in planning.allocate(model, at=day).namespaces})
    client = prometheus.Prometheus(prometheus.settings(url, config=config), ask=ask)
    found = history.collect(client, namespaces=namespaces, period=period, now=now, step=step)
    source = prometheus.redact(url)
    info, event = snapshot_db.open_snapshots(ledger).take(
        period=period, rollups=found.rollups, source=source, actor=actor, at=now, partial=found.partial,
        evaluated_until=found.end, provenance=found.provenance)
    warnings: list[str] = []
    if not found.rollups:
        warnings.append(f"0 rollups: Prometheus at {source} has no series for any of the {len(namespaces)} tenant "
                        "namespaces in this period (are cAdvisor and kube-state-metrics scraped, with the selectors "
                        "of docs/enforcement.md?); reports on this snapshot will say \"no data\"")
    if found.partial:
        warnings.append(f"period {period.label} has not ended: the snapshot covers it up to "
                        f"{audit_events.stamp(found.end)} and is marked partial; take it again after it ends")
    return SnapshotResult(period=period, rows=len(found.rollups), tenants=len({r.tenant for r in found.rollups}),
                          queries=found.queries, partial=found.partial, info=info, event=event,
                          warnings=tuple(warnings))


def raise_future(period: periods.Period) -> None:
    from dctenant.errors import UserError

    raise UserError(f"period {period.label} starts {audit_events.stamp(period.start)}, in the future: there is "
                    "nothing to snapshot or report yet; ask again once it has started (a running period gives a "
                    "partial snapshot)", location="--period")
