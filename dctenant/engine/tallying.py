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
# A row's data status, said in words wherever a figure is missing: missing data is never zero.
COMPLETE, PARTIAL, NO_DATA = "complete", "partial", reports.NO_DATA
Key = tuple[str, str, str]
Envelopes = Mapping[dt.date, Mapping[Key, Decimal]]


def _coverage_of(stats: Mapping[str, Decimal]) -> Decimal:
    """A key's coverage in one snapshot: stored, or whole for an old snapshot with figures, or none."""
    if snapshots.COVERAGE in stats:
        return stats[snapshots.COVERAGE]
    has_data = any(s in stats for s in (snapshots.AVERAGE, snapshots.MAXIMUM, snapshots.TOTAL))
    return Decimal(1) if has_data else ZERO


def combine(parts: Sequence[tuple[periods.Period, Sequence[snapshots.Rollup]]]) -> tuple[snapshots.Rollup, ...]:
    """Monthly snapshots merged into one period.

    Averages are weighted by each month's *covered* seconds (coverage × length), never by zeros
    for a month without data; the coverage of the whole is covered seconds / all seconds; totals
    are summed; maxima, p95 and day maxima are the largest (the p95 of the whole is at most the
    largest p95 of its months, so it is an upper bound).
    """
    if len(parts) == 1:
        return tuple(parts[0][1])
    total_seconds = Decimal(sum(p.seconds for p, _ in parts))
    per_part: list[tuple[Decimal, dict[Key, dict[str, Decimal]]]] = []
    merged: dict[tuple[str, str, str, str, str], Decimal] = {}
    for period, rollups in parts:
        stats: dict[Key, dict[str, Decimal]] = defaultdict(dict)
        for x in rollups:
            value = Decimal(x.value)
            if x.stat == snapshots.DAY_MAXIMUM:
                key5 = x.key()
                merged[key5] = max(merged.get(key5, value), value)
            else:
                stats[x.tenant, x.pool, x.resource][x.stat] = value
        per_part.append((Decimal(period.seconds), stats))
    keys = sorted({k for _, stats in per_part for k in stats})
    for key in keys:
        covered = ZERO
        weighted = ZERO
        weight_of_average = ZERO
        for seconds, stats in per_part:
            found = stats.get(key)
            if not found:
                continue
            part_covered = _coverage_of(found) * seconds
            covered += part_covered
            if snapshots.AVERAGE in found and part_covered > 0:
                weighted += found[snapshots.AVERAGE] * part_covered
                weight_of_average += part_covered
            if snapshots.TOTAL in found:
                slot = (*key, snapshots.TOTAL, "")
                merged[slot] = merged.get(slot, ZERO) + found[snapshots.TOTAL]
            for stat in (snapshots.P95, snapshots.MAXIMUM):
                if stat in found:
                    slot = (*key, stat, "")
                    merged[slot] = max(merged.get(slot, found[stat]), found[stat])
        if weight_of_average > 0:
            merged[(*key, snapshots.AVERAGE, "")] = (weighted / weight_of_average).quantize(Decimal("0.001"))
        merged[(*key, snapshots.COVERAGE, "")] = (covered / total_seconds).quantize(Decimal("0.000001"))
    return tuple(snapshots.Rollup(tenant=k[0], pool=k[1], resource=k[2], stat=k[3], day=k[4], value=plain(v))
                 for k, v in sorted(merged.items()))


def _collect(rollups: Iterable[snapshots.Rollup]) -> dict[Key, dict[str, Any]]:
    """Rollups by key; day maxima under their ISO day (kept as text: 200,000 date parses would dominate)."""
    found: dict[Key, dict[str, Any]] = {}
    day_max = snapshots.DAY_MAXIMUM
    for x in rollups:
        key = (x.tenant, x.pool, x.resource)
        slot = found.get(key)
        if slot is None:
            slot = found[key] = {"days": {}}
        if x.stat == day_max:
            slot["days"][x.day] = Decimal(x.value)
        else:
            slot[x.stat] = Decimal(x.value)
    return found


def _status(coverage: Decimal | None) -> str:
    if coverage is None or coverage <= 0:
        return NO_DATA
    return COMPLETE if coverage >= 1 else PARTIAL


def mean_envelopes(envelopes: Envelopes) -> dict[Key, Decimal]:
    """Each key's envelope averaged over the days given (0 on days it had none), to the millicore/byte."""
    days = len(envelopes)
    sums: dict[Key, Decimal] = defaultdict(lambda: ZERO)
    # Days with the same licence states share one mapping: add each distinct mapping once, times its days.
    counts: dict[int, tuple[Mapping[Key, Decimal], int]] = {}
    for values in envelopes.values():
        held = counts.get(id(values))
        counts[id(values)] = (values, held[1] + 1 if held else 1)
    for values, times in counts.values():
        for key, value in values.items():
            sums[key] += value * times
    return {k: (v / days).quantize(Decimal("0.001")).normalize() if days else ZERO for k, v in sums.items()}


def usage(envelopes: Envelopes, rollups: Iterable[snapshots.Rollup]) -> tuple[reports.Section, ...]:
    """Per tenant, pool and resource: envelope, coverage, average/p95/max, utilisation, days over;
    per tenant and resource: the idle envelope (allocated but unused on average).

    ``envelopes`` holds each day's envelopes (licence state and plan as of that day): a day's
    maximum is compared with that day's envelope, and the row's envelope is their mean over the
    days. Averages cover only the time with data (``coverage`` says how much); a figure without
    data is ``None`` and its row's ``status`` is "no data", never a zero.
    """
    found = _collect(x for x in rollups if not x.resource.startswith("traffic/"))
    means = mean_envelopes(envelopes)
    by_day = {d.isoformat(): values for d, values in envelopes.items()}
    keys = sorted({k for k, v in means.items() if v > 0} | set(found),
                  key=lambda k: (k[0], k[1], resources.sort_key(k[2])))
    rows: list[dict[str, Any]] = []
    idle: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"envelope": ZERO, "average": ZERO,
                                                                       "coverage": [], "missing": 0})
    for key in keys:
        tenant, pool, resource = key
        envelope = means.get(key, ZERO)
        slot = found.get(key, {"days": {}})
        average = slot.get(snapshots.AVERAGE)
        coverage = slot.get(snapshots.COVERAGE, Decimal(1) if average is not None else ZERO)
        if average is None:
            coverage = ZERO
        days: dict[str, Decimal] = slot["days"]
        over = sum(1 for d, peak in days.items() if peak > by_day.get(d, {}).get(key, ZERO))
        rows.append({"tenant": tenant, "pool": pool, "resource": resource, "envelope": plain(envelope),
                     "coverage": plain(coverage), "status": _status(coverage),
                     "average": _opt(average), "p95": _opt(slot.get(snapshots.P95)),
                     "maximum": _opt(slot.get(snapshots.MAXIMUM)),
                     "utilisation": None if average is None else _fraction(average, envelope),
                     "daysWithData": len(days), "daysOver": over if days else None})
        pair = idle[tenant, resource]
        pair["envelope"] += envelope
        pair["coverage"].append(coverage)
        if average is None:
            pair["missing"] += 1
        else:
            pair["average"] += average
    idle_rows: list[dict[str, Any]] = []
    bars: list[reports.Bar] = []
    for (t, k), pair in sorted(idle.items(), key=lambda i: (i[0][0], resources.sort_key(i[0][1]))):
        e, a, coverage = pair["envelope"], pair["average"], min(pair["coverage"])
        known = pair["missing"] == 0
        idle_rows.append({"tenant": t, "resource": k, "envelope": plain(e), "coverage": plain(coverage),
                          "status": _status(coverage), "average": plain(a) if known else None,
                          "idle": plain(max(e - a, ZERO)) if known else None,
                          "idleShare": _fraction(max(e - a, ZERO), e) if known else None})
        if k == resources.CPU and e > 0 and known:
            bars.append(reports.Bar(label=t, value=float(a / e)))
    c = reports.Column
    return (
        reports.Section(name="usage", title="Usage per tenant, pool and resource", rows=tuple(rows), columns=(
            c(key="tenant", title="Tenant", kind=reports.NAME), c(key="pool", title="Pool"),
            c(key="resource", title="Resource"), c(key="envelope", title="Envelope (mean)", kind=reports.AMOUNT),
            c(key="coverage", title="Data", kind=reports.COVERAGE),
            c(key="average", title="Average", kind=reports.AMOUNT), c(key="p95", title="p95", kind=reports.AMOUNT),
            c(key="maximum", title="Maximum", kind=reports.AMOUNT),
            c(key="utilisation", title="Utilisation", kind=reports.FRACTION),
            c(key="daysWithData", title="Days with data", kind=reports.INTEGER),
            c(key="daysOver", title="Days over", kind=reports.INTEGER),
            c(key="status", title="Status")),
            chart=reports.Chart(title="CPU utilisation (average / envelope)", unit="fraction", bars=tuple(bars))),
        reports.Section(name="idle", title="Idle envelope per tenant (allocated but unused on average)",
                        rows=tuple(idle_rows), columns=(
                            c(key="tenant", title="Tenant", kind=reports.NAME), c(key="resource", title="Resource"),
                            c(key="envelope", title="Envelope (mean)", kind=reports.AMOUNT),
                            c(key="coverage", title="Data", kind=reports.COVERAGE),
                            c(key="average", title="Average", kind=reports.AMOUNT),
                            c(key="idle", title="Idle", kind=reports.AMOUNT),
                            c(key="idleShare", title="Idle share", kind=reports.FRACTION),
                            c(key="status", title="Status"))),
    )


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


# -- traffic ---------------------------------------------------------------------------------------

def traffic(rollups: Iterable[snapshots.Rollup], *, tenants: Iterable[str] = ()) -> tuple[reports.Section, ...]:
    """Per tenant: egress and ingress bytes in the period, the share of each total, and the data's coverage.

    ``tenants`` (those served in the period) get a row even without any series: "no data", null
    bytes — never a missing row or a zero that would shift everyone else's share.
    """
    totals: dict[str, list[Decimal | None]] = {t: [None, None] for t in tenants}
    coverage: dict[str, list[Decimal]] = defaultdict(list)
    for x in rollups:
        if x.resource not in (snapshots.TRAFFIC_EGRESS, snapshots.TRAFFIC_INGRESS):
            continue
        side = 0 if x.resource == snapshots.TRAFFIC_EGRESS else 1
        if x.stat == snapshots.TOTAL:
            pair = totals.setdefault(x.tenant, [None, None])
            pair[side] = (pair[side] or ZERO) + Decimal(x.value)
        elif x.stat == snapshots.COVERAGE and side == 0:
            coverage[x.tenant].append(Decimal(x.value))
    egress = sum((v[0] for v in totals.values() if v[0] is not None), ZERO)
    ingress = sum((v[1] for v in totals.values() if v[1] is not None), ZERO)
    rows = []
    for t, (e, i) in sorted(totals.items()):
        share = ZERO if e is None else min(coverage[t]) if coverage[t] else Decimal(1)
        rows.append({"tenant": t, "coverage": plain(share), "status": _status(share),
                     "egressBytes": _opt(e), "ingressBytes": _opt(i),
                     "egressShare": None if e is None else _fraction(e, egress),
                     "ingressShare": None if i is None else _fraction(i, ingress)})
    bars = tuple(reports.Bar(label=t, value=float(e / egress)) for t, (e, _) in sorted(totals.items())
                 if e is not None and egress)
    c = reports.Column
    return (reports.Section(name="traffic", title="Traffic per tenant", rows=tuple(rows), columns=(
        c(key="tenant", title="Tenant", kind=reports.NAME), c(key="coverage", title="Data", kind=reports.COVERAGE),
        c(key="egressBytes", title="Egress", kind=reports.BYTES),
        c(key="ingressBytes", title="Ingress", kind=reports.BYTES),
        c(key="egressShare", title="Egress share", kind=reports.FRACTION),
        c(key="ingressShare", title="Ingress share", kind=reports.FRACTION), c(key="status", title="Status")),
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
           warnings: Sequence[str] = (), partial: bool = False,
           inputs: Mapping[str, Any] | None = None) -> reports.Report:
    titles = {"allocation": "Allocation report", "usage": "Usage report", "traffic": "Traffic report",
              "violations": "Violations report", "licences": "Licences report"}
    return reports.Report(kind=kind, title=titles[kind], period=period, generated_at=now, sources=tuple(sources),
                          ledger_hash=last.hash if last else None, ledger_seq=last.seq if last else None,
                          sections=sections, names=names(model) if model else {}, warnings=tuple(warnings),
                          partial=partial, inputs=dict(inputs or {}))
