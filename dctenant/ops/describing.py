"""``dctenant show``: what the data centre holds, as one result value the CLI can print or serialise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.domain import quotas, resources, tenants
from dctenant.loaders import loading


@dataclass(frozen=True, kw_only=True)
class ResourceLine:
    key: str
    capacity: Decimal
    overcommit: Decimal
    reserve: Decimal
    allocatable: Decimal
    demand: Decimal  # what all tenants together ask for in the pool


@dataclass(frozen=True, kw_only=True)
class PoolView:
    name: str
    site: str
    context: str
    lines: tuple[ResourceLine, ...]


@dataclass(frozen=True, kw_only=True)
class TenantView:
    id: str
    name_en: str
    name_fa: str
    tier: str
    licence: str
    expires: dt.date
    days_to_expiry: int
    state: tenants.LicenceState
    demand: Mapping[str, Mapping[str, Decimal]]
    namespaces: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Summary:
    datacentre: str
    name_en: str
    name_fa: str
    at: dt.date
    pools: tuple[PoolView, ...]
    tenants: tuple[TenantView, ...]

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON/YAML form: quantities as decimal strings in base units."""
        return {
            "kind": "DataCentreSummary",
            "name": self.datacentre,
            "displayName": {"en": self.name_en, "fa": self.name_fa},
            "at": self.at.isoformat(),
            "pools": {
                p.name: {
                    "site": p.site,
                    "context": p.context,
                    "resources": {
                        line.key: {
                            "capacity": resources.plain(line.capacity),
                            "overcommit": resources.plain(line.overcommit),
                            "reserve": resources.plain(line.reserve),
                            "allocatable": resources.plain(line.allocatable),
                            "demand": resources.plain(line.demand),
                        }
                        for line in p.lines
                    },
                }
                for p in self.pools
            },
            "tenants": {
                t.id: {
                    "displayName": {"en": t.name_en, "fa": t.name_fa},
                    "tier": t.tier,
                    "licence": {"number": t.licence, "expires": t.expires.isoformat(),
                                "daysToExpiry": t.days_to_expiry, "state": t.state.value},
                    "demand": {pool: {k: resources.plain(v) for k, v in d.items()} for pool, d in t.demand.items()},
                    "namespaces": list(t.namespaces),
                }
                for t in self.tenants
            },
        }


def summarise(model: quotas.Quotas, *, at: dt.date) -> Summary:
    """The summary of an already loaded data centre as of ``at``."""
    pools = []
    for pool in model.datacentre.pools:
        lines = []
        for key in pool.resources:
            demand = sum((t.demand.get(pool.name, {}).get(key, Decimal(0)) for t in model.tenants), Decimal(0))
            lines.append(ResourceLine(key=key, capacity=pool.capacity[key],
                                      overcommit=pool.overcommit.get(key, Decimal(1)),
                                      reserve=pool.reserve.get(key, Decimal(0)),
                                      allocatable=pool.allocatable(key), demand=demand))
        pools.append(PoolView(name=pool.name, site=pool.site, context=pool.context, lines=tuple(lines)))
    views = tuple(
        TenantView(id=t.id, name_en=t.display_name.en, name_fa=t.display_name.fa, tier=t.tier,
                   licence=t.licence.number, expires=t.licence.expires,
                   days_to_expiry=t.licence.days_to_expiry(at=at),
                   state=t.licence.state(at=at, rules=model.policy.licences),
                   demand={p: {k: d[k] for k in resources.ordered(d)} for p, d in t.demand.items()},
                   namespaces=tuple(ns.name for ns in t.namespaces))
        for t in sorted(model.tenants, key=lambda t: t.id)
    )
    return Summary(datacentre=model.datacentre.name, name_en=model.datacentre.display_name.en,
                   name_fa=model.datacentre.display_name.fa, at=at, pools=tuple(pools), tenants=views)


def show(path: str, *, at: dt.date) -> Summary:
    """Load and summarise the data centre under ``path``."""
    return summarise(loading.load(path), at=at)


def validate(path: str) -> quotas.Quotas:
    """Load ``path``; raises ``ValidationError`` with every problem when it is not valid."""
    return loading.load(path)
