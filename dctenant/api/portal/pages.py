"""What each portal page shows, gathered from the use-cases into plain values for the templates.

Every read goes through ``SelfService`` with the session's identity, so the portal enforces
exactly the API's rules (``selfservice_usecases.allowed``/``staff_only``): a page builder never
reads another tenant's rows on its own. Quantities stay Decimal strings here; the templates
format them through ``i18n.Reader`` (which says "unknown" for a missing figure, never zero).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.domain import allocations, audit_events, periods, resources
from dctenant.errors import DctenantError
from dctenant.ops import selfservice_usecases
from dctenant.render import explanations

CHART_WIDTH = 240
LEDGER_PAGE = 50


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One resource of one pool as an SVG bar chart: widths in chart units, and the words for screen readers."""

    key: str
    envelope: float
    held: float
    used: float | None
    label: str


def tenant_page(service: selfservice_usecases.SelfService, who: selfservice_usecases.Identity,
                tenant: str) -> dict[str, Any]:
    """The messenger's page: licence, envelopes with the explanation, usage, namespaces, requests."""
    seen = service.overview(who, tenant)  # checks who may read tenant (403) and that it exists (404)
    envelope, model, allocation, namespaces = seen.envelope, seen.model, seen.allocation, seen.namespaces
    record = model.tenant(tenant)
    licence = record.licence
    today = allocation.at
    usage: dict[str, Any] | None = None
    usage_error = ""
    if service.measure is not None:
        try:
            usage = service.usage(who, tenant)
        except DctenantError as exc:
            usage_error = str(exc)
    used = _pool_usage(usage, namespaces) if usage is not None else None
    pools = []
    for pool, rooms in envelope["pools"].items():
        rows = []
        for key in resources.ordered(rooms):
            room = rooms[key]
            amount = None if used is None else used.get(pool, {}).get(key)
            rows.append({"key": key, **room, "used": amount})
        pools.append({"name": pool, "rows": rows, "bars": [_bar(r) for r in rows]})
    return {
        "tenant": tenant, "display": {"en": record.display_name.en, "fa": record.display_name.fa},
        "licence": {"number": licence.number, "expires": licence.expires,
                    "state": licence.state(at=today, rules=model.policy.licences).value,
                    "days": licence.days_to_expiry(at=today)},
        "at": today, "explanation": explanations.explain(model, allocation, tenant), "pools": pools,
        "usage_known": used is not None, "usage_error": usage_error,
        "namespaces": namespaces, "requests": list(reversed(seen.requests)),
        "can_write": not who.auditor,
    }


def _pool_usage(usage: Mapping[str, Any], namespaces: Sequence[Mapping[str, Any]]
                ) -> dict[str, dict[str, Decimal | None]]:
    """Usage summed per pool and resource; a sum with any unknown part is unknown (None), not a smaller number."""
    out: dict[str, dict[str, Decimal | None]] = {}
    measured = usage.get("namespaces", {})
    for ns in namespaces:
        seen = measured.get(ns["name"])
        pool = out.setdefault(ns["pool"], {})
        keys = set(seen["used"]) if seen else set(ns["quota"])
        for key in keys:
            value = seen["used"].get(key) if seen else None
            if key in pool and pool[key] is None:
                continue
            pool[key] = None if value is None else pool.get(key, Decimal(0)) + Decimal(value)  # type: ignore[operator]
    return out


def _bar(row: Mapping[str, Any]) -> Bar:
    envelope = Decimal(row["envelope"])
    held = Decimal(row["staff"]) + Decimal(row["selfService"])
    used = row["used"]
    scale = max(envelope, held, used or Decimal(0)) or Decimal(1)

    def width(value: Decimal) -> float:
        return round(float(value / scale * CHART_WIDTH), 1)

    key = row["key"]
    words = (f"{key}: envelope {resources.humanize(key, envelope)}, held {resources.humanize(key, held)}, used "
             + ("unknown" if used is None else resources.humanize(key, Decimal(used))))
    return Bar(key=key, envelope=width(envelope), held=width(held),
               used=None if used is None else width(Decimal(used)), label=words)


def staff_page(service: selfservice_usecases.SelfService, who: selfservice_usecases.Identity) -> dict[str, Any]:
    """Pending requests to decide, and each pool's capacity, allocation and runway."""
    selfservice_usecases.staff_only(who)
    from dctenant.ops import forecasting  # numpy and the forecast model: only for this page

    model, allocation = service.model()
    runway, runway_error = _runway(service, allocation)
    pools = [{"name": name, "site": model.datacentre.pool(name).site,
              "rows": [{"key": r.key, "capacity": r.capacity, "reserve": r.reserve, "allocatable": r.allocatable,
                        "allocated": r.allocated, "free": r.free} for r in pool.resources],
              "runway": runway.get(name, [])}
             for name, pool in sorted(allocation.pools.items())]
    return {"pending": service.requests(who, state="pending"), "pools": pools, "at": allocation.at,
            "tenants": sorted(t.id for t in model.tenants), "runway_known": runway_error == "",
            "runway_error": runway_error, "horizon": forecasting.HORIZON_DAYS, "min_points": forecasting.MIN_POINTS}


def _runway(service: selfservice_usecases.SelfService, allocation: allocations.Allocation
            ) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """Per pool, the runway of each resource's demand (``ops.forecasting.demand_runway``) from the ledger the
    service holds; a ledger that cannot be read leaves the runway unknown, with the reason (never "no runway")."""
    from dctenant.ops import forecasting

    try:
        found = forecasting.demand_runway(allocation, ledger=service.ledger)
    except DctenantError as exc:
        return {}, str(exc)
    out: dict[str, list[dict[str, Any]]] = {}
    for f in found:
        out.setdefault(f.pool, []).append({
            "key": f.resource, "current": f.current, "limit": f.limit, "points": f.points,
            "short": bool(f.problem), "crossing": f.crossing, "earliest": f.earliest, "latest": f.latest})
    return out, ""


def audit_page(service: selfservice_usecases.SelfService, who: selfservice_usecases.Identity, *,
               today: dt.date) -> dict[str, Any]:
    """The auditor's start page: report pickers in both calendars and the latest signed checkpoint."""
    selfservice_usecases.staff_only(who, read=True)
    from dctenant.ops import auditing

    model, _ = service.model()
    latest = auditing.latest_checkpoint(service.ledger)
    return {"kinds": REPORT_KINDS, "gregorian": gregorian_months(today), "jalali": jalali_months(today),
            "checkpoint": None if latest is None else {"covers": latest.checkpoint.covers,
                                                       "size": latest.checkpoint.size,
                                                       "origin": latest.checkpoint.origin},
            "events": service.ledger.count(), "event_kinds": audit_events_kinds(),
            "tenants": sorted(t.id for t in model.tenants)}


REPORT_KINDS = ("allocation", "usage", "traffic", "violations", "licences")
EXTRA_KINDS = (selfservice_usecases.REQUESTED, selfservice_usecases.APPROVED, selfservice_usecases.REJECTED,
               selfservice_usecases.TOKEN_CREATED, selfservice_usecases.TOKEN_REVOKED,
               selfservice_usecases.INTENDED, selfservice_usecases.FAILED)


def audit_events_kinds() -> tuple[str, ...]:
    return tuple(sorted(set(audit_events.KINDS + EXTRA_KINDS)))


def gregorian_months(today: dt.date, count: int = 24) -> list[str]:
    """The current Gregorian month and the ``count - 1`` before it, newest first (``2026-11``)."""
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def jalali_months(today: dt.date, count: int = 24) -> list[str]:
    """The current Solar Hijri month and the ``count - 1`` before it, newest first (``1405-09``)."""
    year, month, _ = periods.to_jalali(today)
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def ledger_page(service: selfservice_usecases.SelfService, who: selfservice_usecases.Identity, *,
                kind: str | None, tenant: str | None, since: dt.datetime | None, until: dt.datetime | None,
                after: int) -> dict[str, Any]:
    """One page of ledger events matching the filters, from event ``after + 1`` on."""
    selfservice_usecases.staff_only(who, read=True)
    events = service.ledger.events(kinds=[kind] if kind else None, tenant=tenant or None, since=since, until=until)
    page = list(itertools.islice((e for e in events if e.seq > after), LEDGER_PAGE + 1))
    return {"events": [_event(e) for e in page[:LEDGER_PAGE]],
            "next": page[LEDGER_PAGE - 1].seq if len(page) > LEDGER_PAGE else None}


def _event(e: audit_events.LedgerEvent) -> dict[str, Any]:
    from dctenant.engine import chaining

    return {"seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "tenant": e.tenant or "",
            "subject": chaining.canonical(e.subject), "before": chaining.canonical(e.before),
            "after": chaining.canonical(e.after), "reason": e.reason, "hash": e.hash}
