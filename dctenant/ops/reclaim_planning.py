"""``dctenant reclaim``: envelopes against observed need, the idle part, and what others would gain.

Proposals are never applied: they come out as rows and as a what-if changes document (``setDemand``
per proposal) that staff can run through ``plan --what-if``, discuss with the tenant, and then make
as an ordinary, reviewed edit of ``quotas/``. The gains shown are that what-if's result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.clients import files, need_history, prometheus
from dctenant.domain import reclaim, resources, whatif
from dctenant.engine import comparing, reclaiming
from dctenant.loaders import loading
from dctenant.ops import planning, whatif_planning


@dataclass(frozen=True, kw_only=True)
class ReclaimResult:
    at: dt.datetime
    method: reclaim.Method
    rows: tuple[reclaim.Row, ...]
    gains: tuple[whatif.EnvelopeChange, ...]  # other tenants' envelopes that grow if every proposal is made
    source: str

    def changes_document(self) -> dict[str, Any]:
        """The proposals as a what-if file (``plan --what-if``)."""
        by_share: dict[tuple[str, str], dict[str, str]] = {}
        for r in self.rows:
            if r.proposed is not None:
                by_share.setdefault((r.tenant, r.pool), {})[r.resource] = resources.format_amount(r.resource,
                                                                                                 r.proposed)
        changes = [{"setDemand": {"tenant": t, "pool": p, "demand": _nested(d)}}
                   for (t, p), d in sorted(by_share.items())]
        return {"apiVersion": "dctenant.io/v1alpha1", "kind": "WhatIf",
                "metadata": {"name": f"reclaim-{self.at.date().isoformat()}"}, "changes": changes}

    def as_dict(self) -> dict[str, Any]:
        plain = resources.plain

        def num(v: Decimal | None) -> str | None:
            return None if v is None else plain(v)

        m = self.method
        return {
            "kind": "ReclaimReport", "at": self.at.isoformat(), "source": self.source,
            "method": {"windowSeconds": m.window_seconds, "stepSeconds": m.step_seconds, "quantile": str(m.quantile),
                       "margin": str(m.margin), "minIdle": str(m.min_idle), "minCoverage": str(m.min_coverage)},
            "rows": [{"tenant": r.tenant, "pool": r.pool, "resource": r.resource, "envelope": plain(r.envelope),
                      "demand": plain(r.demand), "statistic": r.statistic, "observed": num(r.observed),
                      "need": num(r.need), "idle": num(r.idle),
                      "idleRatio": None if r.idle_ratio is None else f"{r.idle_ratio:.4f}",
                      "coverage": f"{r.coverage:.4f}", "proposed": num(r.proposed), "heldBy": r.held or None}
                     for r in self.rows],
            "gains": [{"tenant": g.tenant, "pool": g.pool, "resource": g.resource, "before": num(g.before),
                       "after": num(g.after)} for g in self.gains],
            "changes": self.changes_document(),
        }


def _nested(flat: dict[str, str]) -> dict[str, Any]:
    """``{"storage/ssd": "1Ti", "cpu": "2"}`` → the quotas/ form ``{"storage": {"ssd": "1Ti"}, "cpu": "2"}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if resources.kind(key) in (resources.Kind.STORAGE, resources.Kind.BANDWIDTH):
            group, name = key.split("/", 1)
            out.setdefault(group, {})[name] = value
        else:
            out[key] = value
    return out


def reclaim_plan(path: str, *, url: str, at: dt.datetime, method: reclaim.Method, config: str | None = None,
                 ask: prometheus.Asker | None = None) -> ReclaimResult:
    """Observe every tenant's need over the window ending at ``at`` and propose lower demands."""
    model = loading.load(path)
    allocation = planning.allocate(model, at=at.date())
    owners = {ns.name: (t.id, ns.pool) for t in model.tenants for ns in t.namespaces}
    client = prometheus.Prometheus(prometheus.settings(url, config=config), ask=ask)
    observed = need_history.observe(client, owners=owners, method=method, at=at)
    floors: dict[tuple[str, str, str], Decimal] = {}
    for t in model.tenants:
        for ns in t.namespaces:
            for key, value in ns.quota.items():
                floors[t.id, ns.pool, key] = floors.get((t.id, ns.pool, key), Decimal(0)) + value
    rows = reclaiming.rows(allocation, observed, method=method, unit=model.policy.unit, floors=floors)
    result = ReclaimResult(at=at, method=method, rows=rows, gains=(), source=prometheus.redact(url))
    gains: tuple[whatif.EnvelopeChange, ...] = ()
    document = result.changes_document()
    if document["changes"]:
        changes = tuple(whatif.Change(op=op, argument=arg, location=f"reclaim proposal {i}")
                        for i, c in enumerate(document["changes"]) for op, arg in c.items())
        after = whatif_planning.changed_model_from(path, changes, model=model)
        comparison = comparing.compare(allocation, planning.allocate(after, at=at.date()))
        proposers = {(r.tenant, r.pool) for r in rows if r.proposed is not None}
        gains = tuple(e for e in comparison.envelopes if e.delta > 0 and (e.tenant, e.pool) not in proposers)
    return ReclaimResult(at=at, method=method, rows=rows, gains=gains, source=result.source)


def write_changes(result: ReclaimResult, target: str) -> None:
    """Save the proposals as a what-if file."""
    import pathlib

    from dctenant.loaders import whatif_files

    files.write_atomically(pathlib.Path(target), whatif_files.to_yaml(result.changes_document()))
