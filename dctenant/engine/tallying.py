"""The figures of the auditors' reports, computed from the allocation, snapshots and ledger events.

Pure, like the allocator: it reads no clock, file or network. The caller (``ops.reporting``)
gathers the inputs and passes "now"; the same inputs always give the same report, which is
what lets golden files pin the CSV and JSON schemas down and an auditor reproduce a report.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dctenant.domain import allocations, audit_events, periods, quotas, reports, resources, snapshots

ZERO = Decimal(0)
plain = resources.plain
VIOLATION_KINDS = (audit_events.ENFORCEMENT_DECISION, audit_events.ACTION_TAKEN, audit_events.ACTION_UNDONE)


def _fraction(part: Decimal, whole: Decimal) -> str | None:
    return plain((part / whole).quantize(Decimal("0.000001"))) if whole > 0 else None


def names(model: quotas.Quotas) -> dict[str, dict[str, str]]:
    return {t.id: {"en": t.display_name.en, "fa": t.display_name.fa} for t in model.tenants}


# -- allocation ------------------------------------------------------------------------------------

def allocation(model: quotas.Quotas, result: allocations.Allocation) -> tuple[reports.Section, ...]:
    """Per tenant, pool and resource: demand, envelope, share of the pool; per pool: capacity to free."""
    tiers = {t.id: t.tier for t in model.tenants}
    allocatable = {p: {x.key: x.allocatable for x in pool.resources} for p, pool in result.pools.items()}
    rows = []
    for tid, t in result.tenants.items():
        for pool, share in t.shares.items():
            for key in resources.ordered(share.demand):
                envelope = share.envelope.get(key, ZERO)
                rows.append({"tenant": tid, "pool": pool, "tier": tiers[tid], "guaranteed": plain(t.guaranteed),
                             "state": t.state, "resource": key, "demand": plain(share.demand[key]),
                             "envelope": plain(envelope),
                             "capacityShare": _fraction(envelope, allocatable[pool].get(key, ZERO)),
                             "limitedBy": share.limited_by})
    pools = [{"pool": p, "resource": x.key, "capacity": plain(x.capacity), "reserve": plain(x.reserve),
              "allocatable": plain(x.allocatable), "allocated": plain(x.allocated), "free": plain(x.free)}
             for p, pool in result.pools.items() for x in pool.resources]
    total_cpu = sum((x.allocatable for pool in result.pools.values() for x in pool.resources
                     if x.key == resources.CPU), ZERO)
    bars = tuple(reports.Bar(label=tid, value=float(sum((s.envelope.get(resources.CPU,
                                                                        ZERO) for s in t.shares.values()),
                                                  ZERO) / total_cpu) if total_cpu else 0.0)
                 for tid, t in result.tenants.items())
    c = reports.Column
    return (
        reports.Section(name="tenants", title="Envelopes per tenant, pool and resource", rows=tuple(rows), columns=(
            c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"), c(key="tier",
                                                                                               title="Tier"),
            c(key="guaranteed", title="Guarantee", kind=reports.FRACTION), c(key="state", title="State"),
            c(key="resource", title="Resource"), c(key="demand", title="Demand", kind=reports.AMOUNT),
            c(key="envelope", title="Envelope", kind=reports.AMOUNT),
            c(key="capacityShare", title="Share of pool", kind=reports.FRACTION),
            c(key="limitedBy", title="Bottleneck")),
            chart=reports.Chart(title="Share of the data centre's allocatable CPU", unit="fraction", bars=bars)),
        reports.Section(name="pools", title="Pools", rows=tuple(pools), columns=(
            c(key="pool", title="Pool"), c(key="resource", title="Resource"),
            c(key="capacity", title="Capacity", kind=reports.AMOUNT), c(key="reserve", title="Reserve",
                                                                        kind=reports.AMOUNT),
            c(key="allocatable", title="Allocatable", kind=reports.AMOUNT),
            c(key="allocated", title="Allocated", kind=reports.AMOUNT), c(key="free", title="Free",
                                                                          kind=reports.AMOUNT))),
    )


# -- usage -----------------------------------------------------------------------------------------

def combine(parts: Sequence[tuple[periods.Period, Sequence[snapshots.Rollup]]]) -> tuple[snapshots.Rollup, ...]:
    """Monthly snapshots merged into one period: averages weighted by length, maxima and p95 the
    largest (the p95 of the whole is at most the largest p95 of its months), totals summed."""
    if len(parts) == 1:
        return tuple(parts[0][1])
    total_seconds = sum(p.seconds for p, _ in parts)
    merged: dict[tuple[str, str, str, str, str], Decimal] = {}
    for period, rollups in parts:
        weight = Decimal(period.seconds) / Decimal(total_seconds)
        for x in rollups:
            key, value = x.key(), Decimal(x.value)
            if x.stat == snapshots.AVERAGE:
                merged[key] = merged.get(key, ZERO) + value * weight
            elif x.stat == snapshots.TOTAL:
                merged[key] = merged.get(key, ZERO) + value
            else:
                merged[key] = max(merged.get(key, value), value)
    return tuple(snapshots.Rollup(tenant=k[0], pool=k[1], resource=k[2], stat=k[3], day=k[4],
                                  value=plain(v.quantize(Decimal("0.001")) if k[3] == snapshots.AVERAGE else v))
                 for k, v in sorted(merged.items()))


def _collect(rollups: Iterable[snapshots.Rollup]) -> dict[tuple[str, str, str], dict[str, Any]]:
    found: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: {"days": []})
    for x in rollups:
        slot = found[x.tenant, x.pool, x.resource]
        if x.stat == snapshots.DAY_MAXIMUM:
            slot["days"].append(Decimal(x.value))
        else:
            slot[x.stat] = Decimal(x.value)
    return found


def usage(result: allocations.Allocation, rollups: Iterable[snapshots.Rollup]) -> tuple[reports.Section, ...]:
    """Per tenant, pool and resource: envelope, average/p95/max, utilisation, days over the envelope;
    per tenant and resource: the idle envelope (allocated but unused on average)."""
    found = _collect(x for x in rollups if not x.resource.startswith("traffic/"))
    envelopes = {(tid, pool, key): value for tid, t in result.tenants.items() for pool, s in t.shares.items()
                 for key, value in s.envelope.items()}
    keys = sorted(set(envelopes) | set(found), key=lambda k: (k[0], k[1], resources.sort_key(k[2])))
    rows: list[dict[str, Any]] = []
    idle: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for key in keys:
        tenant, pool, resource = key
        envelope = envelopes.get(key, ZERO)
        slot = found.get(key, {"days": []})
        average = slot.get(snapshots.AVERAGE)
        rows.append({"tenant": tenant, "pool": pool, "resource": resource, "envelope": plain(envelope),
                     "average": None if average is None else plain(average),
                     "p95": _opt(slot.get(snapshots.P95)), "maximum": _opt(slot.get(snapshots.MAXIMUM)),
                     "utilisation": None if average is None else _fraction(average, envelope),
                     "daysOver": sum(1 for d in slot["days"] if d > envelope)})
        pair = idle[tenant, resource]
        pair[0] += envelope
        pair[1] += average or ZERO
    idle_rows: list[dict[str, Any]] = []
    bars: list[reports.Bar] = []
    for (t, k), (e, a) in sorted(idle.items(), key=lambda i: (i[0][0], resources.sort_key(i[0][1]))):
        idle_rows.append({"tenant": t, "resource": k, "envelope": plain(e), "average": plain(a),
                          "idle": plain(max(e - a, ZERO)), "idleShare": _fraction(max(e - a, ZERO), e)})
        if k == resources.CPU and e > 0:
            bars.append(reports.Bar(label=t, value=float(a / e)))
    c = reports.Column
    return (
        reports.Section(name="usage", title="Usage per tenant, pool and resource", rows=tuple(rows), columns=(
            c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"),
            c(key="resource", title="Resource"), c(key="envelope", title="Envelope", kind=reports.AMOUNT),
            c(key="average", title="Average", kind=reports.AMOUNT), c(key="p95", title="p95", kind=reports.AMOUNT),
            c(key="maximum", title="Maximum", kind=reports.AMOUNT),
            c(key="utilisation", title="Utilisation", kind=reports.FRACTION),
            c(key="daysOver", title="Days over", kind=reports.INTEGER)),
            chart=reports.Chart(title="CPU utilisation (average / envelope)", unit="fraction", bars=tuple(bars))),
        reports.Section(name="idle", title="Idle envelope per tenant (allocated but unused on average)",
                  rows=tuple(idle_rows), columns=(
                      c(key="tenant", title="Tenant", kind=reports.NAME), c(key="resource", title="Resource"),
                      c(key="envelope", title="Envelope", kind=reports.AMOUNT),
                      c(key="average", title="Average", kind=reports.AMOUNT), c(key="idle", title="Idle",
                                                                                kind=reports.AMOUNT),
                      c(key="idleShare", title="Idle share", kind=reports.FRACTION))),
    )


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


# -- traffic ---------------------------------------------------------------------------------------

def traffic(rollups: Iterable[snapshots.Rollup]) -> tuple[reports.Section, ...]:
    """Per tenant: egress and ingress bytes in the period and the tenant's share of each total."""
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for x in rollups:
        if x.stat == snapshots.TOTAL and x.resource in (snapshots.TRAFFIC_EGRESS, snapshots.TRAFFIC_INGRESS):
            totals[x.tenant][0 if x.resource == snapshots.TRAFFIC_EGRESS else 1] += Decimal(x.value)
    egress = sum((v[0] for v in totals.values()), ZERO)
    ingress = sum((v[1] for v in totals.values()), ZERO)
    rows = tuple({"tenant": t, "egressBytes": plain(e), "ingressBytes": plain(i),
                  "egressShare": _fraction(e, egress), "ingressShare": _fraction(i, ingress)}
                 for t, (e, i) in sorted(totals.items()))
    bars = tuple(reports.Bar(label=t, value=float(e / egress) if egress else 0.0) for t, (e,
                                                                                          _) in sorted(totals.items()))
    c = reports.Column
    return (reports.Section(name="traffic", title="Traffic per tenant", rows=rows, columns=(
        c(key="tenant", title="Tenant", kind=reports.NAME), c(key="egressBytes", title="Egress", kind=reports.BYTES),
        c(key="ingressBytes", title="Ingress", kind=reports.BYTES),
        c(key="egressShare", title="Egress share", kind=reports.FRACTION),
        c(key="ingressShare", title="Ingress share", kind=reports.FRACTION)),
        chart=reports.Chart(title="Share of egress traffic", unit="fraction", bars=bars)),)


# -- violations ------------------------------------------------------------------------------------

def _detail(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("action", "state", "decision"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()) if not isinstance(v, (dict, list)))
    return "" if value is None else str(value)


def _action_key(event: audit_events.LedgerEvent) -> tuple[str, str, str, str]:
    action = _detail(event.after).removeprefix("undo-")
    return (event.subject.get("tenant", ""), event.subject.get("pool", ""), event.subject.get("resource", ""), action)


def violations(events: Sequence[audit_events.LedgerEvent], *, period: periods.Period,
               now: dt.datetime) -> tuple[reports.Section, ...]:
    """Every decision and action in the period, in order; an action lasts until it is undone."""
    undone: dict[tuple[str, str, str, str], list[dt.datetime]] = defaultdict(list)
    for e in events:
        if e.kind == audit_events.ACTION_UNDONE:
            undone[_action_key(e)].append(e.at)
    end = min(now, period.end)
    rows: list[dict[str, Any]] = []
    for e in events:
        if e.kind not in VIOLATION_KINDS or not period.start <= e.at < period.end:
            continue
        duration: int | None = None
        if e.kind == audit_events.ACTION_TAKEN:
            later = [t for t in undone.get(_action_key(e), []) if t >= e.at]
            duration = int(((min(later) if later else end) - e.at).total_seconds())
        rows.append({"seq": e.seq, "at": audit_events.stamp(e.at), "tenant": e.subject.get("tenant", ""),
                     "pool": e.subject.get("pool", ""), "resource": e.subject.get("resource", ""),
                     "kind": e.kind, "detail": _detail(e.after), "reason": e.reason, "durationSeconds": duration,
                     "ongoing": e.kind == audit_events.ACTION_TAKEN and not any(
                         t >= e.at for t in undone.get(_action_key(e), [])), "actor": e.actor})
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["kind"] == audit_events.ACTION_TAKEN:
            counts[row["tenant"]] += 1
    c = reports.Column
    return (reports.Section(name="violations", title="Breaches, decisions and actions", rows=tuple(rows), columns=(
        c(key="seq", title="Event", kind=reports.INTEGER), c(key="at", title="Time", kind=reports.TIME),
        c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"),
        c(key="resource", title="Resource"), c(key="kind", title="Kind"), c(key="detail", title="Decision / action"),
        c(key="reason", title="Reason"), c(key="durationSeconds", title="Duration", kind=reports.DURATION),
        c(key="ongoing", title="Ongoing"), c(key="actor", title="Actor")),
        chart=reports.Chart(title="Actions taken per tenant", unit="count",
                      bars=tuple(reports.Bar(label=t, value=float(n)) for t, n in sorted(counts.items())))),)


# -- licences --------------------------------------------------------------------------------------

def licences(model: quotas.Quotas, *, at: dt.date,
             events: Sequence[audit_events.LedgerEvent]) -> tuple[reports.Section, ...]:
    """Per tenant: licence status and state on ``at``, expiry, days left, grace, licence actions taken."""
    taken: dict[str, list[str]] = defaultdict(list)
    for e in events:
        tenant = e.subject.get("tenant", "")
        if e.kind == audit_events.LICENCE_CHANGED:
            taken[tenant].append("licence-changed")
        elif e.kind in (audit_events.ACTION_TAKEN,
                        audit_events.ACTION_UNDONE) and e.subject.get("resource") == "licence":
            taken[tenant].append(_detail(e.after) or e.kind)
    rules = model.policy.licences
    rows = tuple({"tenant": t.id, "number": t.licence.number, "status": t.licence.status.value,
                  "state": t.licence.state(at=at, rules=rules).value, "issued": t.licence.issued.isoformat(),
                  "expires": t.licence.expires.isoformat(), "daysLeft": t.licence.days_to_expiry(at=at),
                  "graceUntil": (t.licence.expires + dt.timedelta(days=rules.grace_days)).isoformat(),
                  "actions": ", ".join(taken.get(t.id, []))}
                 for t in sorted(model.tenants, key=lambda t: t.id))
    c = reports.Column
    return (reports.Section(name="licences", title=f"Licences on {at.isoformat()}", rows=rows, columns=(
        c(key="tenant", title="Tenant", kind=reports.NAME), c(key="number", title="Licence"),
        c(key="status", title="Status"), c(key="state", title="State"), c(key="issued", title="Issued",
                                                                          kind=reports.DATE),
        c(key="expires", title="Expires", kind=reports.DATE), c(key="daysLeft", title="Days left",
                                                                kind=reports.INTEGER),
        c(key="graceUntil", title="Grace until", kind=reports.DATE), c(key="actions", title="Actions taken"))),)


def report(*, kind: str, period: periods.Period, now: dt.datetime, sections: tuple[reports.Section, ...],
           sources: Sequence[reports.Source], last: audit_events.LedgerEvent | None, model: quotas.Quotas | None,
           warnings: Sequence[str] = ()) -> reports.Report:
    titles = {"allocation": "Allocation report", "usage": "Usage report", "traffic": "Traffic report",
              "violations": "Violations report", "licences": "Licences report"}
    return reports.Report(kind=kind, title=titles[kind], period=period, generated_at=now, sources=tuple(sources),
                          ledger_hash=last.hash if last else None, ledger_seq=last.seq if last else None,
                          sections=sections, names=names(model) if model else {}, warnings=tuple(warnings))
